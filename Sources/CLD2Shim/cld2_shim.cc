// A C face for CLD2's C++ entry point, so Swift can call it.
#include "cld2_shim.h"

#include <cstdio>  // compact_lang_det.h uses FILE without including it
#include <cstring>
#include <cld2/public/compact_lang_det.h>

extern "C" pipe_language_guess pipe_cld2_detect(const char *text, int length) {
    CLD2::Language top3[3];
    int percent3[3];
    int text_bytes = 0;
    bool reliable = false;
    CLD2::Language language = CLD2::ExtDetectLanguageSummary(text, length, true, top3, percent3, &text_bytes, &reliable);
    pipe_language_guess guess;
    std::memset(&guess, 0, sizeof guess);
    std::strncpy(guess.code, CLD2::LanguageCode(language), sizeof guess.code - 1);
    guess.percent = language == top3[0] ? percent3[0] : 0;
    guess.reliable = reliable ? 1 : 0;
    guess.text_bytes = text_bytes;
    return guess;
}
