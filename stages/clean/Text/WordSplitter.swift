import CTextScan

/// Splits English text into words the way the reference filters count them: at white space,
/// then punctuation, quotes, currency signs and symbols come off the front and back of each
/// piece, hyphens, slashes and ellipses between letters split it, and contractions split
/// before `n't`, `'s`, `'ll`, ... (the rules of spaCy's English tokenizer, which datatrove's
/// Gopher and FineWeb filters use). URLs and abbreviations (`Mr.`, `e.g.`, `U.S.A.`) stay whole.
///
/// Works on UTF-8 bytes and appends byte ranges; nothing is allocated per word. Runs of plain
/// ASCII words are found 32 bytes at a time in C (`ctextscan_plain_words`); the rest here.
/// Pieces the affix rules split are remembered (`PieceSplits`), so a splitter belongs to one
/// thread.
struct WordSplitter {
    private let classes = UnicodeClasses.Table()
    private let affixes = AffixRules()
    private let remembered = PieceSplits()
    private let plainRun = PlainWordBounds()

    /// Appends the words of `range` of `text` to `words`.
    func split(_ text: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into words: inout [Range<Int>]) {
        guard let base = text.baseAddress else { return }
        Self.asciiKinds.withUnsafeBufferPointer { kinds in
            var i = range.lowerBound
            let end = range.upperBound
            while i < end {
                // Plain ASCII words, as many as follow one another; then one piece below.
                var stop = 0
                let found = ctextscan_plain_words(base, i, end, plainRun.bounds, PlainWordBounds.capacity, &stop)
                if found > 0 { plainRun.append(found, to: &words) }
                i = stop
                if found == PlainWordBounds.capacity { continue }
                guard i < end else { break }
                // Skip white space.
                let b = text[i]
                if b < 0x80 {
                    if kinds[Int(b)] == Kind.space { i += 1; continue }
                } else {
                    let (space, _, n) = classes.spaceAndAlpha(text, i)
                    if space { i += n; continue }
                }
                // The piece up to the next white space, noting on the way whether it is plain
                // (letters and digits, no letter after a digit), which most words are: those are
                // one word as they are, without a second look. `notPlain` gathers the kinds that
                // spoil it; `afterDigit` becomes the letter kind once a digit is seen.
                var j = i
                var notPlain: UInt8 = 0, afterDigit: UInt8 = 0
                while j < end {
                    let b = text[j]
                    if b < 0x80 {
                        let kind = kinds[Int(b)]
                        if kind == Kind.space { break }
                        notPlain |= (kind & Kind.other) | (kind & afterDigit)
                        afterDigit |= (kind & Kind.digit) >> 1
                        j += 1
                    } else {
                        let (space, alpha, n) = classes.spaceAndAlpha(text, j)
                        if space { break }
                        if afterDigit != 0 || !alpha { notPlain = Kind.other }
                        j += n
                    }
                }
                if notPlain == 0 { words.append(i..<j) } else { splitPiece(text, i..<j, into: &words) }
                i = j
            }
        }
    }

    /// What the piece scan needs to know of an ASCII byte (Python's `isspace` for white space).
    private enum Kind {
        static let letter: UInt8 = 1, digit: UInt8 = 2, other: UInt8 = 4, space: UInt8 = 8
    }

    private static let asciiKinds: [UInt8] = (0..<128).map { v in
        let b = UInt8(v)
        if (0x09...0x0D).contains(b) || (0x1C...0x20).contains(b) { return Kind.space }
        if UnicodeClasses.asciiLetter(b) { return Kind.letter }
        if UnicodeClasses.asciiDigit(b) { return Kind.digit }
        return Kind.other
    }

    /// One white-space-free piece: a plain word with one closing mark, a piece split before, or
    /// the affix rules (remembered for the next time).
    private func splitPiece(_ s: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, into words: inout [Range<Int>]) {
        if let cut = plainWithTrailingPunctuation(s, piece) {
            words.append(piece.lowerBound..<cut)
            words.append(cut..<piece.upperBound)
            return
        }
        guard piece.count <= PieceSplits.maximumLength else { applyRules(s, piece, into: &words); return }
        let hash = ByteHash.hash(s, piece)
        if remembered.lookup(piece, hash: hash, into: &words) { return }
        let first = words.count
        applyRules(s, piece, into: &words)
        remembered.remember(piece, hash: hash, words[first...])
    }

    /// Prefixes and suffixes off, then the middle.
    private func applyRules(_ s: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, into words: inout [Range<Int>]) {
        var lo = piece.lowerBound, hi = piece.upperBound
        var suffixes: [Range<Int>] = []
        var lastSize = -1
        while lo < hi, hi - lo != lastSize {
            if Self.isSpecial(s, lo..<hi) { break }
            lastSize = hi - lo
            let pre = affixes.prefixLength(s, lo..<hi)
            if pre > 0, lo + pre < hi, Self.isSpecial(s, (lo + pre)..<hi) {
                words.append(lo..<(lo + pre)); lo += pre; break
            }
            let suf = affixes.suffixLength(s, (lo + pre)..<hi)
            if suf > 0, hi - suf > lo, Self.isSpecial(s, lo..<(hi - suf)) {
                suffixes.append((hi - suf)..<hi); hi -= suf; break
            }
            if pre > 0, suf > 0, pre + suf <= hi - lo {
                words.append(lo..<(lo + pre)); lo += pre
                suffixes.append((hi - suf)..<hi); hi -= suf
            } else if pre > 0 {
                words.append(lo..<(lo + pre)); lo += pre
            } else if suf > 0 {
                suffixes.append((hi - suf)..<hi); hi -= suf
            }
            if lo < hi, Self.isSpecial(s, lo..<hi) { break }
        }
        if lo < hi {
            if let contraction = Contractions.split(s, lo..<hi) {
                words.append(lo..<contraction); words.append(contraction..<hi)
            } else if Self.isSpecial(s, lo..<hi) || affixes.isURL(s, lo..<hi) {
                words.append(lo..<hi)
            } else {
                affixes.splitInfixes(s, lo..<hi, into: &words)
            }
        }
        words.append(contentsOf: suffixes.reversed())
    }

    /// Letters and digits only, with no digit directly before a letter (`10km` splits): one
    /// word as it is. Most words take this path.
    @inline(__always)
    private func isPlain(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        var previousDigit = false
        var i = r.lowerBound
        while i < r.upperBound {
            let b = s[i]
            if UnicodeClasses.asciiLetter(b) {
                if previousDigit { return false }
                i += 1
            } else if UnicodeClasses.asciiDigit(b) {
                previousDigit = true
                i += 1
            } else if b >= 0x80 {
                let (c, n) = UnicodeClasses.scalar(s, i)
                guard classes.isAlpha(c), !previousDigit else { return false }
                i += n
            } else {
                return false
            }
        }
        return true
    }

    /// The common `word,` / `word.` / `word)`: a plain word and one closing mark that comes off
    /// as a suffix (a period only after a lower-case letter or digit, and not in an
    /// abbreviation). Returns where the mark starts.
    @inline(__always)
    private func plainWithTrailingPunctuation(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard r.count >= 2 else { return nil }
        let last = s[r.upperBound - 1], before = s[r.upperBound - 2]
        switch last {
        case UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "!"), UInt8(ascii: "?"),
             UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "\""):
            break
        case UInt8(ascii: "."):
            guard (before >= 0x61 && before <= 0x7A) || UnicodeClasses.asciiDigit(before), !Abbreviations.contains(s, r) else { return nil }
        default:
            return nil
        }
        return isPlain(s, r.lowerBound..<(r.upperBound - 1)) ? r.upperBound - 1 : nil
    }

    /// Pieces kept whole whatever the affix rules say: abbreviations and contractions.
    static func isSpecial(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        Abbreviations.contains(s, r) || Contractions.split(s, r) != nil
    }
}

/// Where `ctextscan_plain_words` writes the bounds of a run of plain words: (start, end) pairs
/// with the layout of `Range<Int>`, so a run is appended to the words in one copy.
final class PlainWordBounds {
    static let capacity = 256
    let bounds = UnsafeMutablePointer<Int64>.allocate(capacity: 2 * capacity)

    deinit { bounds.deallocate() }

    func append(_ count: Int, to words: inout [Range<Int>]) {
        bounds.withMemoryRebound(to: Range<Int>.self, capacity: count) { words.append(contentsOf: UnsafeBufferPointer(start: $0, count: count)) }
    }
}
