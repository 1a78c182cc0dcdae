import Foundation
import PipeKit

/// C4's rules (Raffel et al. 2020; as datatrove's `C4QualityFilter`): keep only lines that end
/// in terminal punctuation, have at least 3 words and no word over 1,000 characters, and do not
/// mention javascript or cookie/terms policies; Wikipedia citation marks are removed; a page
/// with `lorem ipsum` or a curly bracket, or with fewer than 5 sentences left, is dropped.
/// Unlike the other filters, C4 also rewrites what it keeps (only the kept lines remain).
struct C4QualityFilter: QualityFilter {
    /// Its thresholds, with datatrove's defaults (those the published datasets used).
    struct Settings: Parameters {
        @Param("remove [1], [edit], [citation needed]") var remove_citations: Bool = true
        @Param("drop lines not ending in . ? ! \" '") var filter_no_terminal_punct: Bool = true
        @Param("drop pages with fewer sentences left; -1 turns it off") var min_num_sentences: Int = 5
        @Param("drop lines with fewer words") var min_words_per_line: Int = 3
        @Param("drop lines with a longer word; -1 turns it off") var max_word_length: Int = 1000
        @Param("drop pages containing lorem ipsum") var filter_lorem_ipsum: Bool = true
        @Param("drop lines mentioning javascript") var filter_javascript: Bool = true
        @Param("drop pages containing {") var filter_curly_bracket: Bool = true
        @Param("drop lines about cookies and terms of use") var filter_policy: Bool = true
        init() {}
    }

    let settings: Settings
    var name: String { "c4" }
    private static let policies: [StaticString] = ["terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies", "use cookies"]

    /// The kept lines joined by line breaks, or why the page is dropped.
    func check(_ text: TextAnalysis) -> FilterVerdict {
        let p = settings
        var sentences = 0
        var kept: [UInt8] = []
        var line: [UInt8] = [], lower: [UInt8] = []
        var failure: String?
        // Sentences are counted over the document's words (shared with the other filters): no
        // word crosses a line break, so a line's words are a run of them. A line that lost a
        // citation mark is split again. The kept lines' words, moved to where the lines land,
        // are the rewritten text's words, which the next filters then need not find again.
        let documentWords = p.min_num_sentences >= 0 ? text.words : []
        var keptWords: [Range<Int>] = []
        var cursor = 0
        text.splitLines { raw in
            guard failure == nil else { return }
            let r = text.stripped(raw)
            // A line is kept only if it ends a sentence, and removing citations changes its
            // last character only when it ends in `]`: any other line goes without a scan.
            if p.filter_no_terminal_punct, let last = text.withBytes({ r.isEmpty ? nil : $0[r.upperBound - 1] }),
               !Self.endsSentence(last), last != UInt8(ascii: "]") { return }
            if p.filter_no_terminal_punct, r.isEmpty { return }
            let (words, longest) = text.withBytes { Self.whitespaceWords(in: $0, r) }
            if p.max_word_length >= 0, longest > p.max_word_length { return }
            line.removeAll(keepingCapacity: true)
            text.withBytes { s in
                if p.remove_citations { Self.appendRemovingCitations(s, r, to: &line) } else { line += UnsafeBufferPointer(rebasing: s[r]) }
            }
            if p.filter_no_terminal_punct {
                guard let last = line.last, Self.endsSentence(last), !line.ends(with: [0x2E, 0x2E, 0x2E]) else { return }
            }
            if words < p.min_words_per_line { return }
            lower = line
            lower.withUnsafeMutableBufferPointer { b in
                for k in b.indices { b[k] = b[k] &- 0x41 < 26 ? b[k] | 0x20 : b[k] }  // ASCII lower case; vectorizes
            }
            if p.filter_lorem_ipsum, lower.contains("lorem ipsum") { failure = "lorem_ipsum"; return }
            if p.filter_javascript, lower.contains("javascript") { return }
            if p.filter_curly_bracket, lower.contains("{") { failure = "curly_bracket"; return }
            if p.filter_policy, Self.policies.contains(where: { lower.contains($0) }) { return }
            if !kept.isEmpty { kept.append(0x0A) }
            if p.min_num_sentences >= 0 {
                if line.count == r.count {
                    while cursor < documentWords.count, documentWords[cursor].lowerBound < r.lowerBound { cursor += 1 }
                    var end = cursor
                    while end < documentWords.count, documentWords[end].upperBound <= r.upperBound { end += 1 }
                    sentences += text.withBytes { SentenceCounter.count($0, documentWords[cursor..<end]) }
                    Self.append(documentWords[cursor..<end], movedBy: kept.count - r.lowerBound, to: &keptWords)
                    cursor = end
                } else {
                    text.lineWords.removeAll(keepingCapacity: true)
                    line.withUnsafeBufferPointer { text.splitter.split($0, 0..<$0.count, into: &text.lineWords) }
                    sentences += line.withUnsafeBufferPointer { SentenceCounter.count($0, text.lineWords[...]) }
                    Self.append(text.lineWords[...], movedBy: kept.count, to: &keptWords)
                }
            }
            kept += line
        }
        if let failure { return .drop(failure) }
        if sentences < p.min_num_sentences { return .drop("too_few_sentences: \(sentences) < \(p.min_num_sentences)") }
        return .rewrite(kept, words: p.min_num_sentences >= 0 ? keptWords : nil)
    }

    private static func append(_ words: ArraySlice<Range<Int>>, movedBy offset: Int, to out: inout [Range<Int>]) {
        for w in words { out.append((w.lowerBound + offset)..<(w.upperBound + offset)) }
    }

    @inline(__always)
    private static func endsSentence(_ b: UInt8) -> Bool {
        b == UInt8(ascii: ".") || b == UInt8(ascii: "?") || b == UInt8(ascii: "!") || b == UInt8(ascii: "\"") || b == UInt8(ascii: "'")
    }

    /// Words split at white space (Python's `str.split()`), and the longest one's characters.
    private static func whitespaceWords(in s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> (Int, Int) {
        var words = 0, longest = 0, current = 0, i = r.lowerBound
        while i < r.upperBound {
            let b = s[i], space: Bool, n: Int
            if b < 0x80 {
                (space, n) = (b == 0x20 || (b >= 0x09 && b <= 0x0D) || (b >= 0x1C && b <= 0x1F), 1)
            } else {
                let (c, length) = UnicodeClasses.scalar(s, i)
                (space, n) = (UnicodeClasses.isSpace(c), length)
            }
            if space {
                current = 0
            } else {
                if current == 0 { words += 1 }
                current += 1
                longest = max(longest, current)
            }
            i += n
        }
        return (words, longest)
    }

    /// Copies `r` without `[12]`, `[]`, `[edit]` and `[citation needed]`.
    private static func appendRemovingCitations(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>, to out: inout [UInt8]) {
        if !r.isEmpty, memchr(s.baseAddress! + r.lowerBound, Int32(UInt8(ascii: "[")), r.count) == nil {
            out.append(contentsOf: UnsafeBufferPointer(rebasing: s[r]))  // no citation marks: the whole line
            return
        }
        var i = r.lowerBound
        while i < r.upperBound {
            if s[i] == UInt8(ascii: "[") {
                var j = i + 1
                while j < r.upperBound, UnicodeClasses.asciiDigit(s[j]) { j += 1 }
                if j < r.upperBound, s[j] == UInt8(ascii: "]") { i = j + 1; continue }
                let rest = UnsafeBufferPointer(rebasing: s[(i + 1)..<r.upperBound])
                if rest.starts(with: "edit]".utf8) { i += 6; continue }
                if rest.starts(with: "citation needed]".utf8) { i += 17; continue }
            }
            out.append(s[i])
            i += 1
        }
    }
}

/// Counts sentences as spaCy's rule-based sentencizer does: a sentence ends after a token that
/// is a sentence terminator (`.`, `!`, `?`, ...) once a token follows that is not punctuation.
enum SentenceCounter {
    /// Sentences among `words` (one line's words, as `WordSplitter` gives them) of `s`.
    static func count(_ s: UnsafeBufferPointer<UInt8>, _ words: ArraySlice<Range<Int>>) -> Int {
        guard !words.isEmpty else { return 0 }
        var sentences = 1, seenTerminal = false
        for w in words {
            let (c, n) = UnicodeClasses.scalar(s, w.lowerBound)
            let isTerminal = n == w.count && UnicodeClasses.isSentenceTerminal(c)
            if seenTerminal, !isTerminal, !isPunctuation(s, w) {
                sentences += 1
                seenTerminal = false
            } else if isTerminal {
                seenTerminal = true
            }
        }
        return sentences
    }

    private static func isPunctuation(_ s: UnsafeBufferPointer<UInt8>, _ w: Range<Int>) -> Bool {
        var i = w.lowerBound
        while i < w.upperBound {
            let (c, n) = UnicodeClasses.scalar(s, i)
            if !UnicodeClasses.isPunctuation(c) { return false }
            i += n
        }
        return true
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && self[(count - suffix.count)...].elementsEqual(suffix) }

    /// Whether the bytes contain `needle`: candidates found by `memchr` on its first byte
    /// (vectorized), each checked with `memcmp`.
    func contains(_ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount, first = Int32(needle.utf8Start[0])
        return withUnsafeBufferPointer { s in
            guard let base = s.baseAddress, s.count >= n else { return false }
            let last = s.count - n  // the last position a match can start at
            var i = 0
            while i <= last {
                guard let hit = memchr(base + i, first, last - i + 1) else { return false }
                let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                if memcmp(base + at, needle.utf8Start, n) == 0 { return true }
                i = at + 1
            }
            return false
        }
    }
}
