#ifndef PIPE_CLD2_SHIM_H
#define PIPE_CLD2_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

/// The language CLD2 finds in UTF-8 plain text.
typedef struct {
    /// ISO 639-1 code where one exists ("en", "de", "zh", "zh-Hant"), "un" when unknown.
    char code[16];
    /// Percent of the text in the top language (0-100).
    int percent;
    /// Whether CLD2 considers the answer reliable.
    int reliable;
    /// Bytes of letters CLD2 scored.
    int text_bytes;
} pipe_language_guess;

/// Detects the main language of `length` bytes of valid UTF-8 plain text.
pipe_language_guess pipe_cld2_detect(const char *text, int length);

#ifdef __cplusplus
}
#endif

#endif
