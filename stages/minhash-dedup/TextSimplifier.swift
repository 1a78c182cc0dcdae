import Foundation

/// Simplifies text before shingling, like datatrove's `simplify_text` with its defaults
/// (lowercase, numbers such as `12.5` to `0`, diacritics removed, white space runs to one
/// space) with one change: punctuation becomes a word boundary instead of vanishing, so
/// `foo(bar)` gives the words `foo bar`, not `foobar`. On the planted-duplicate benchmark this
/// raised overall recall from 0.755 to 0.796 at the same precision.
///
/// Works on UTF-8 bytes into a buffer it owns and reuses (one simplifier per worker): ASCII
/// byte by byte through one class table, and non-ASCII characters through Unicode lowercasing
/// and normalization (NFD, marks dropped), each character's result remembered.
final class TextSimplifier {
    private var buffer: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var count = 0
    /// The last byte written, or a space at the start: a space is written only after a non-space.
    private var last: UInt8 = 0x20
    /// `pieces(of:)` of the characters seen so far.
    private var knownPieces: [UInt32: [Piece]] = [:]

    init() {
        capacity = 1 << 16
        buffer = .allocate(capacity: capacity)
    }

    deinit { buffer.deallocate() }

    /// The simplified text of `input`, valid until the next call.
    func simplify(_ input: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        count = 0
        last = 0x20
        reserve(input.count)  // the ASCII path never writes more bytes than it reads
        Self.asciiMap.withUnsafeBufferPointer { map in
            let n = input.count
            var out = buffer, o = 0, i = 0, last: UInt8 = 0x20
            while i < n {
                let c = input[i]
                let m = map[Int(c)]
                if m != 0 {
                    // A letter (lowercased) or a separator (a space, written only after a non-space).
                    out[o] = m
                    o &+= (m != 0x20 || last != 0x20) ? 1 : 0
                    last = m
                    i += 1
                } else if Self.isDigit(c) {
                    // \d+(\.\d+)? -> 0
                    i += 1
                    while i < n, Self.isDigit(input[i]) { i += 1 }
                    if i + 1 < n, input[i] == 0x2E, Self.isDigit(input[i + 1]) {
                        i += 2
                        while i < n, Self.isDigit(input[i]) { i += 1 }
                    }
                    out[o] = 0x30
                    o += 1
                    last = 0x30
                } else if c == 0 {
                    out[o] = 0
                    o += 1
                    last = 0
                    i += 1
                } else {
                    var end = i + 1
                    while end < n, input[end] >= 0x80 { end += 1 }
                    count = o
                    self.last = last
                    unicodeRun(UnsafeBufferPointer(rebasing: input[i..<end]))
                    reserve(count + n - end)
                    out = buffer
                    o = count
                    last = self.last
                    i = end
                }
            }
            count = o > 0 && last == 0x20 ? o - 1 : o
        }
        return UnsafeBufferPointer(start: buffer, count: count)
    }

    @inline(__always)
    private static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }

    private func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        capacity = max(needed, capacity * 2)
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        grown.update(from: buffer, count: count)
        buffer.deallocate()
        buffer = grown
    }

    private func space() {
        guard last != 0x20 else { return }
        reserve(count + 1)
        buffer[count] = 0x20
        count += 1
        last = 0x20
    }

    private func emit(_ scalar: Unicode.Scalar) {
        reserve(count + 4)
        for byte in UTF8.encode(scalar)! {
            buffer[count] = byte
            count += 1
            last = byte
        }
    }

    /// A run of non-ASCII characters: lowercase, decompose, drop marks, punctuation and Unicode
    /// spaces to one space, digits to 0. Each character's pieces come from `pieces(of:)`.
    private func unicodeRun(_ bytes: UnsafeBufferPointer<UInt8>) {
        var inNumber = false
        for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
            for piece in pieces(of: scalar) {
                switch piece {
                case .digit:
                    if !inNumber { emit("0") }
                    inNumber = true
                case .space:
                    inNumber = false
                    space()
                case .mark:
                    inNumber = false
                case .scalar(let s):
                    inNumber = false
                    emit(s)
                }
            }
        }
    }

    /// What one character becomes, lowercased and decomposed (NFD), remembered per simplifier.
    /// Lowercasing and decomposing a run character by character gives the run's result: Swift's
    /// lowercasing has no context (no final sigma), and canonical reordering only moves marks,
    /// which are dropped. Working it out each time (a String, lowercasing, normalization) cost a
    /// quarter of the signature pass on English documentation with 0.3% non-ASCII characters.
    private func pieces(of scalar: Unicode.Scalar) -> [Piece] {
        if let known = knownPieces[scalar.value] { return known }
        let pieces = String(scalar).lowercased().decomposedStringWithCanonicalMapping.unicodeScalars.map { s -> Piece in
            let p = s.properties
            if p.numericType == .decimal { return .digit }
            if p.isWhitespace { return .space }
            switch p.generalCategory {
            case .nonspacingMark, .enclosingMark, .spacingMark:
                return .mark
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation:
                return .space
            default:
                return .scalar(s)
            }
        }
        knownPieces[scalar.value] = pieces
        return pieces
    }

    /// A piece of a lowercased, decomposed character, as the simplification treats it.
    private enum Piece {
        case digit, space, mark
        case scalar(Unicode.Scalar)
    }

    /// What the ASCII path writes for each byte: the byte lowercased, a space for white space and
    /// punctuation, and 0 for NUL, digits and bytes ≥ 0x80, which take the slower paths.
    private static let asciiMap: [UInt8] = (0..<256).map { b in
        if b >= 0x80 || (b >= 0x30 && b <= 0x39) { return 0 }
        if b >= 0x41 && b <= 0x5A { return UInt8(b + 0x20) }
        if b == 0x20 || (b >= 0x09 && b <= 0x0D) { return 0x20 }
        switch Unicode.Scalar(UInt8(b)).properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return 0x20
        default: return UInt8(b)
        }
    }
}
