import Foundation

/// A document-level quality rule's decision: keep the text, keep a rewritten text (C4 keeps
/// only some lines; with the rewritten text's words when the filter knows them), or drop it
/// with a reason.
enum FilterVerdict: Equatable, Sendable {
    case keep
    case rewrite([UInt8], words: [Range<Int>]? = nil)
    case drop(String)
}

/// A quality filter of the `web` preset. Filters read the text through a shared
/// `TextAnalysis`, so words and lines are found once per document whatever runs.
protocol QualityFilter: Sendable {
    /// The name in rejects and stats (`gopher_quality`).
    var name: String { get }
    func check(_ text: TextAnalysis) -> FilterVerdict
}

/// One document's UTF-8 text, with its words and its length in characters computed on first
/// use. A worker keeps one and `reset`s it per document, so its buffers are reused.
final class TextAnalysis {
    private(set) var bytes: [UInt8] = []
    private var wordRanges: [Range<Int>] = []
    private var wordsReady = false
    private var lineRanges: [Range<Int>] = []
    private var linesReady = false
    private var characterCount = -1
    let splitter = WordSplitter()
    /// Scratch for filters that count repeats.
    var table = CountingTable()
    /// Scratch for filters that split lines into words.
    var lineWords: [Range<Int>] = []

    /// Starts on a new text; `words`, when given, are its words as `WordSplitter` finds them.
    func reset(_ text: [UInt8], words: [Range<Int>]? = nil) {
        bytes = text
        wordRanges.removeAll(keepingCapacity: true)
        if let words { wordRanges.append(contentsOf: words) }
        wordsReady = words != nil
        linesReady = false
        characterCount = -1
    }

    /// Calls `body` with the text's bytes.
    @inline(__always)
    func withBytes<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T { bytes.withUnsafeBufferPointer(body) }

    /// The words as the reference filters count them (`WordSplitter`).
    var words: [Range<Int>] {
        if !wordsReady {
            wordRanges.reserveCapacity(bytes.count / 4)  // about one word per five bytes in prose
            bytes.withUnsafeBufferPointer { splitter.split($0, 0..<$0.count, into: &wordRanges) }
            wordsReady = true
        }
        return wordRanges
    }

    /// Characters (Unicode scalars), Python's `len(text)`.
    var characters: Int {
        if characterCount < 0 { characterCount = withBytes { UnicodeClasses.count($0, 0..<$0.count) } }
        return characterCount
    }

    /// Lines as Python's `str.splitlines` gives them: split at `\n`, `\r`, `\r\n`, `\v`, `\f`,
    /// `\x1c`-`\x1e`, U+0085, U+2028, U+2029, no empty line after a final break. Found once per
    /// text and shared by the filters.
    func splitLines(_ body: (Range<Int>) -> Void) {
        if !linesReady {
            findLines()
            linesReady = true
        }
        for line in lineRanges { body(line) }
    }

    private func findLines() {
        lineRanges.removeAll(keepingCapacity: true)
        Self.mayBreakLine.withUnsafeBufferPointer { mayBreak in
            withBytes { s in
                var start = 0, i = 0
                while i < s.count {
                    let b = s[i]
                    guard mayBreak[Int(b)] else { i += 1; continue }
                    var breakLength = 0
                    switch b {
                    case 0x0D: breakLength = i + 1 < s.count && s[i + 1] == 0x0A ? 2 : 1
                    case 0xC2: breakLength = i + 1 < s.count && s[i + 1] == 0x85 ? 2 : 0
                    case 0xE2: breakLength = i + 2 < s.count && s[i + 1] == 0x80 && (s[i + 2] == 0xA8 || s[i + 2] == 0xA9) ? 3 : 0
                    default: breakLength = 1
                    }
                    if breakLength > 0 {
                        lineRanges.append(start..<i)
                        i += breakLength
                        start = i
                    } else {
                        i += 1
                    }
                }
                if start < s.count { lineRanges.append(start..<s.count) }
            }
        }
    }

    /// Bytes that are, or may start, a line break.
    private static let mayBreakLine: [Bool] = (0..<256).map { [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0xC2, 0xE2].contains($0) }

    /// `range` without Python white space at either end.
    func stripped(_ range: Range<Int>) -> Range<Int> {
        withBytes { s in
            var lo = range.lowerBound, hi = range.upperBound
            while lo < hi {
                let (c, n) = UnicodeClasses.scalar(s, lo)
                guard UnicodeClasses.isSpace(c) else { break }
                lo += n
            }
            while hi > lo {
                let start = UnicodeClasses.previousStart(s, before: hi)
                guard UnicodeClasses.isSpace(UnicodeClasses.scalar(s, start).0) else { break }
                hi = start
            }
            return lo..<hi
        }
    }

    /// Counts `#` and ellipses: non-overlapping `...` plus `…` (Python's `text.count` of each).
    /// `#` is counted by a loop the compiler vectorizes; ellipses are looked for only where
    /// `memchr` finds a period or the lead byte of `…`.
    func hashesAndEllipses() -> (hashes: Int, ellipses: Int) {
        withBytes { s in
            guard let base = s.baseAddress else { return (0, 0) }
            var hashes = 0
            for b in s { hashes &+= b == UInt8(ascii: "#") ? 1 : 0 }
            var ellipses = 0
            for (lead, rest) in [(UInt8(ascii: "."), (UInt8(ascii: "."), UInt8(ascii: "."))), (UInt8(0xE2), (UInt8(0x80), UInt8(0xA6)))] {
                var i = 0
                while i < s.count, let found = memchr(base + i, Int32(lead), s.count - i) {
                    i = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                    if i + 2 < s.count, s[i + 1] == rest.0, s[i + 2] == rest.1 {
                        ellipses += 1
                        i += 3
                    } else {
                        i += 1
                    }
                }
            }
            return (hashes, ellipses)
        }
    }

    /// Whether `range` ends with the bytes of `suffix`.
    func hasSuffix(_ range: Range<Int>, _ suffix: StaticString) -> Bool {
        let n = suffix.utf8CodeUnitCount
        guard range.count >= n else { return false }
        return withBytes { s in (0..<n).allSatisfy { s[range.upperBound - n + $0] == suffix.utf8Start[$0] } }
    }

    /// Whether `range` starts with the bytes of `prefix`.
    func hasPrefix(_ range: Range<Int>, _ prefix: StaticString) -> Bool {
        let n = prefix.utf8CodeUnitCount
        guard range.count >= n else { return false }
        return withBytes { s in (0..<n).allSatisfy { s[range.lowerBound + $0] == prefix.utf8Start[$0] } }
    }
}
