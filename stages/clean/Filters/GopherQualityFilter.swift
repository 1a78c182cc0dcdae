/// Gopher's quality rules (Rae et al. 2021, appendix A; thresholds as datatrove's
import PipeKit
/// `GopherQualityFilter`): word count, mean word length, `#` and ellipsis density, bullet and
/// ellipsis lines, words with letters, and English stop words.
struct GopherQualityFilter: QualityFilter {
    /// Its thresholds, with datatrove's defaults (those the published datasets used).
    struct Settings: Parameters {
        @Param("fewest words (not counting pure punctuation); 0 turns the rule off") var min_doc_words: Int = 50
        @Param("most words") var max_doc_words: Int = 100_000
        @Param("shortest mean word length in characters") var min_avg_word_length: Double = 3
        @Param("longest mean word length") var max_avg_word_length: Double = 10
        @Param("most `#` or ellipses per word") var max_symbol_word_ratio: Double = 0.1
        @Param("largest share of lines starting with a bullet") var max_bullet_lines_ratio: Double = 0.9
        @Param("largest share of lines ending with an ellipsis") var max_ellipsis_lines_ratio: Double = 0.3
        @Param("smallest share of words with a letter") var min_alpha_words_ratio: Double = 0.8
        @Param("fewest of the stop words the, be, to, of, and, that, have, with") var min_stop_words: Int = 2
        init() {}
    }

    let settings: Settings
    var name: String { "gopher_quality" }
    private static let nonSymbol: UInt8 = 1, alpha: UInt8 = 2
    /// Per ASCII byte: `nonSymbol` unless it is punctuation or a control character (tab and line
    /// feed count as non-symbols, as in datatrove's set), and `alpha` for letters.
    private static let asciiFlags: [UInt8] = (0..<128).map { v in
        let b = UInt8(v)
        if UnicodeClasses.asciiLetter(b) { return nonSymbol | alpha }
        return !UnicodeClasses.asciiPunctuation(b) && b >= 0x20 && b != 0x7F || b == 0x09 || b == 0x0A ? nonSymbol : 0
    }

    /// The stop words' bytes packed little-endian into one integer each (all are at most four
    /// bytes), so a word of up to four bytes is checked with eight integer compares.
    private static let stopWords: [UInt32] = ["the", "be", "to", "of", "and", "that", "have", "with"].map { word in
        word.utf8.enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
    }

    func check(_ text: TextAnalysis) -> FilterVerdict {
        let p = settings
        let words = text.words
        let stopWords = Self.stopWords
        var symbolFree = 0, symbolFreeCharacters = 0, alphaWords = 0
        var stopWordsSeen: UInt8 = 0
        let classes = UnicodeClasses.Table()
        Self.asciiFlags.withUnsafeBufferPointer { asciiFlags in text.withBytes { s in
            for w in words {
                var flags: UInt8 = 0, characters = 0
                var i = w.lowerBound
                while i < w.upperBound {
                    let b = s[i]
                    characters += 1
                    if b < 0x80 {
                        flags |= asciiFlags[Int(b)]
                        i += 1
                    } else {
                        let (c, n) = UnicodeClasses.scalar(s, i)
                        if !classes.isDatatrovePunctuation(c) { flags |= Self.nonSymbol }
                        if classes.isAlpha(c) { flags |= Self.alpha }
                        i += n
                    }
                }
                // Without branches: which words count is data the predictor cannot learn.
                let counted = Int(flags & Self.nonSymbol)
                symbolFree += counted
                symbolFreeCharacters += characters & (0 &- counted)
                alphaWords += Int((flags & Self.alpha) >> 1)
                if w.count <= 4 {
                    // The stop words are 2-4 bytes: the word's bytes packed like theirs.
                    let packed = UInt32(truncatingIfNeeded: s.word(at: w.lowerBound, count: w.count))
                    for k in 0..<stopWords.count where stopWords[k] == packed { stopWordsSeen |= 1 << k }
                }
            }
        } }
        if p.min_doc_words > 0, symbolFree < p.min_doc_words {
            return .drop("gopher_short_doc: \(symbolFree) words < \(p.min_doc_words)")
        }
        if p.max_doc_words > 0, symbolFree > p.max_doc_words {
            return .drop("gopher_long_doc: \(symbolFree) words > \(p.max_doc_words)")
        }
        if symbolFree > 0 {
            let mean = Double(symbolFreeCharacters) / Double(symbolFree)
            if p.min_avg_word_length > 0, mean < p.min_avg_word_length {
                return .drop("gopher_below_avg_threshold: mean word length \(rounded(mean)) < \(p.min_avg_word_length)")
            }
            if p.max_avg_word_length > 0, mean > p.max_avg_word_length {
                return .drop("gopher_above_avg_threshold: mean word length \(rounded(mean)) > \(p.max_avg_word_length)")
            }
        }
        guard !words.isEmpty else { return .drop("gopher_short_doc: no words") }
        let n = Double(words.count)
        if p.max_symbol_word_ratio > 0 {
            let counts = text.hashesAndEllipses()
            let hashes = Double(counts.hashes) / n
            if hashes > p.max_symbol_word_ratio {
                return .drop("gopher_too_many_hashes: \(rounded(hashes)) per word > \(p.max_symbol_word_ratio)")
            }
            let ellipses = Double(counts.ellipses) / n
            if ellipses > p.max_symbol_word_ratio {
                return .drop("gopher_too_many_ellipsis: \(rounded(ellipses)) per word > \(p.max_symbol_word_ratio)")
            }
        }
        var lines = 0, bullets = 0, ellipsisEnds = 0
        text.splitLines { line in
            lines += 1
            let stripped = text.stripped(line)
            let front = stripped.lowerBound..<line.upperBound
            if text.hasPrefix(front, "\u{2022}") || text.hasPrefix(front, "-") { bullets += 1 }
            let back = line.lowerBound..<stripped.upperBound
            if text.hasSuffix(back, "...") || text.hasSuffix(back, "\u{2026}") { ellipsisEnds += 1 }
        }
        if lines > 0 {
            let bulletRatio = Double(bullets) / Double(lines)
            if p.max_bullet_lines_ratio > 0, bulletRatio > p.max_bullet_lines_ratio {
                return .drop("gopher_too_many_bullets: \(rounded(bulletRatio)) of lines > \(p.max_bullet_lines_ratio)")
            }
            let ellipsisRatio = Double(ellipsisEnds) / Double(lines)
            if p.max_ellipsis_lines_ratio > 0, ellipsisRatio > p.max_ellipsis_lines_ratio {
                return .drop("gopher_too_many_end_ellipsis: \(rounded(ellipsisRatio)) of lines > \(p.max_ellipsis_lines_ratio)")
            }
        }
        let alphaRatio = Double(alphaWords) / n
        if p.min_alpha_words_ratio > 0, alphaRatio < p.min_alpha_words_ratio {
            return .drop("gopher_below_alpha_threshold: \(rounded(alphaRatio)) of words have letters < \(p.min_alpha_words_ratio)")
        }
        if p.min_stop_words > 0, stopWordsSeen.nonzeroBitCount < p.min_stop_words {
            return .drop("gopher_enough_stop_words: \(stopWordsSeen.nonzeroBitCount) stop words < \(p.min_stop_words)")
        }
        return .keep
    }
}

/// A ratio shown with 3 decimals in a reason.
func rounded(_ x: Double) -> String { String(format: "%.3f", x) }
