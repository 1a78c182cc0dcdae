import PipeKit

/// The declared parameters of each quality filter, with datatrove's defaults (the thresholds the
/// published datasets used).
enum FilterParameters {
    static let gopherQuality = ParamSpec("gopher_quality", .object([
        ParamSpec("min_doc_words", .int, default: .int(50), doc: "fewest words (not counting pure punctuation); 0 turns the rule off"),
        ParamSpec("max_doc_words", .int, default: .int(100_000), doc: "most words"),
        ParamSpec("min_avg_word_length", .float, default: .double(3), doc: "shortest mean word length in characters"),
        ParamSpec("max_avg_word_length", .float, default: .double(10), doc: "longest mean word length"),
        ParamSpec("max_symbol_word_ratio", .float, default: .double(0.1), doc: "most `#` or ellipses per word"),
        ParamSpec("max_bullet_lines_ratio", .float, default: .double(0.9), doc: "largest share of lines starting with a bullet"),
        ParamSpec("max_ellipsis_lines_ratio", .float, default: .double(0.3), doc: "largest share of lines ending with an ellipsis"),
        ParamSpec("min_alpha_words_ratio", .float, default: .double(0.8), doc: "smallest share of words with a letter"),
        ParamSpec("min_stop_words", .int, default: .int(2), doc: "fewest of the stop words the, be, to, of, and, that, have, with"),
    ]), default: .object([:]), doc: "Gopher quality rules")

    static let gopherRepetition = ParamSpec("gopher_repetition", .object([
        ParamSpec("dup_line_frac", .float, default: .double(0.3), doc: "largest share of lines that repeat an earlier line"),
        ParamSpec("dup_para_frac", .float, default: .double(0.3), doc: "largest share of paragraphs that repeat"),
        ParamSpec("dup_line_char_frac", .float, default: .double(0.2), doc: "largest share of characters in repeated lines"),
        ParamSpec("dup_para_char_frac", .float, default: .double(0.2), doc: "largest share of characters in repeated paragraphs"),
        ParamSpec("top_n_grams", .map(.float), default: .object(["2": .double(0.2), "3": .double(0.18), "4": .double(0.16)]),
                  doc: "n -> largest share of characters in the most frequent n-gram"),
        ParamSpec("dup_n_grams", .map(.float), default: .object(["5": .double(0.15), "6": .double(0.14), "7": .double(0.13),
                                                                 "8": .double(0.12), "9": .double(0.11), "10": .double(0.10)]),
                  doc: "n -> largest share of characters in repeated n-grams"),
    ]), default: .object([:]), doc: "Gopher repetition rules")

    static let c4 = ParamSpec("c4", .object([
        ParamSpec("remove_citations", .bool, default: .bool(true), doc: "remove [1], [edit], [citation needed]"),
        ParamSpec("filter_no_terminal_punct", .bool, default: .bool(true), doc: "drop lines not ending in . ? ! \" '"),
        ParamSpec("min_num_sentences", .int, default: .int(5), doc: "drop pages with fewer sentences left; -1 turns it off"),
        ParamSpec("min_words_per_line", .int, default: .int(3), doc: "drop lines with fewer words"),
        ParamSpec("max_word_length", .int, default: .int(1000), doc: "drop lines with a longer word; -1 turns it off"),
        ParamSpec("filter_lorem_ipsum", .bool, default: .bool(true), doc: "drop pages containing lorem ipsum"),
        ParamSpec("filter_javascript", .bool, default: .bool(true), doc: "drop lines mentioning javascript"),
        ParamSpec("filter_curly_bracket", .bool, default: .bool(true), doc: "drop pages containing {"),
        ParamSpec("filter_policy", .bool, default: .bool(true), doc: "drop lines about cookies and terms of use"),
    ]), default: .object([:]), doc: "C4 rules (they also rewrite the text to the kept lines)")

    static let fineweb = ParamSpec("fineweb", .object([
        ParamSpec("line_punct_thr", .float, default: .double(0.12), doc: "smallest share of lines ending in terminal punctuation"),
        ParamSpec("line_punct_exclude_zero", .bool, default: .bool(false), doc: "keep pages where no line ends in punctuation"),
        ParamSpec("short_line_thr", .float, default: .double(0.67), doc: "largest share of short lines"),
        ParamSpec("short_line_length", .int, default: .int(30), doc: "a short line has at most this many characters"),
        ParamSpec("char_duplicates_ratio", .float, default: .double(0.01), doc: "largest share of characters in repeated lines"),
        ParamSpec("new_line_ratio", .float, default: .double(0.3), doc: "most line breaks per word"),
    ]), default: .object([:]), doc: "FineWeb rules")

    static let language = ParamSpec("language", .object([
        ParamSpec("languages", .list(.string), default: .array([]),
                  doc: "ISO 639-1 codes to keep when no `languages` input is wired (the objective's languages win)"),
        ParamSpec("min_percent", .int, default: .int(50), doc: "smallest share of the text (percent) in a kept language"),
        ParamSpec("keep_unknown", .bool, default: .bool(false), doc: "keep texts too short or too mixed for CLD2 to name a language"),
    ]), default: .object([:]), doc: "language identification (CLD2)")
}
