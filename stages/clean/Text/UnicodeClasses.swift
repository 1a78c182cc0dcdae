/// Character classes the quality filters need, on Unicode scalars, with ASCII answered from
/// tables. Definitions follow Python's `str` methods and datatrove's punctuation sets, because
/// the filters' thresholds were tuned with those.
enum UnicodeClasses {
    /// Decodes the scalar starting at byte `i` of valid UTF-8: the scalar and its byte length.
    @inline(__always)
    static func scalar(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> (Unicode.Scalar, Int) {
        let b0 = UInt32(s[i])
        if b0 < 0x80 { return (Unicode.Scalar(UInt8(b0)), 1) }
        if b0 < 0xE0, i + 1 < s.count {
            return (Unicode.Scalar(((b0 & 0x1F) << 6) | (UInt32(s[i + 1]) & 0x3F)) ?? "\u{FFFD}", 2)
        }
        if b0 < 0xF0, i + 2 < s.count {
            let v = ((b0 & 0x0F) << 12) | ((UInt32(s[i + 1]) & 0x3F) << 6) | (UInt32(s[i + 2]) & 0x3F)
            return (Unicode.Scalar(v) ?? "\u{FFFD}", 3)
        }
        if i + 3 < s.count {
            let v = ((b0 & 0x07) << 18) | ((UInt32(s[i + 1]) & 0x3F) << 12) | ((UInt32(s[i + 2]) & 0x3F) << 6) | (UInt32(s[i + 3]) & 0x3F)
            return (Unicode.Scalar(v) ?? "\u{FFFD}", 4)
        }
        return ("\u{FFFD}", 1)
    }

    /// The start of the scalar that ends just before byte `end`.
    @inline(__always)
    static func previousStart(_ s: UnsafeBufferPointer<UInt8>, before end: Int) -> Int {
        var i = end - 1
        while i > 0, s[i] & 0xC0 == 0x80 { i -= 1 }
        return i
    }

    /// Scalars (Python's `len`) in a byte range of valid UTF-8: the bytes that are not
    /// continuation bytes (10xxxxxx), found eight at a time by their top two bits.
    @inline(__always)
    static func count(_ s: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int {
        guard let base = s.baseAddress, !range.isEmpty else { return 0 }
        let raw = UnsafeRawPointer(base)
        var i = range.lowerBound, skipped = 0
        while i + 8 <= range.upperBound {
            skipped += continuations(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            i += 8
        }
        skipped += continuations(s.word(at: i, count: range.upperBound - i))
        return range.count - skipped
    }

    /// UTF-8 continuation bytes (10xxxxxx) among the eight bytes of `x`.
    @inline(__always)
    static func continuations(_ x: UInt64) -> Int { (x & ~(x << 1) & 0x8080_8080_8080_8080).nonzeroBitCount }

    /// Class bits of one scalar.
    private struct Bits: OptionSet {
        let rawValue: UInt16
        static let space = Bits(rawValue: 1), alpha = Bits(rawValue: 2), lower = Bits(rawValue: 4), upper = Bits(rawValue: 8)
        static let digit = Bits(rawValue: 16), punctuation = Bits(rawValue: 32), icon = Bits(rawValue: 64)
        static let terminal = Bits(rawValue: 128), datatrove = Bits(rawValue: 256)
    }

    /// The classes of every Basic Multilingual Plane scalar, computed once (about 10 ms) so that
    /// classifying a character is one load instead of a Unicode property lookup; in memory
    /// that is never freed.
    nonisolated(unsafe) private static let bmp: UnsafePointer<UInt16> = {
        let table = UnsafeMutablePointer<UInt16>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 { table[v] = Unicode.Scalar(UInt32(v)).map { computeBits($0).rawValue } ?? 0 }
        return UnsafePointer(table)
    }()

    /// The class table, through a pointer a hot loop can hold: reading a static goes through a
    /// lazy-initialization check on every access; a stored pointer does not. The static
    /// predicates below are these, for code outside hot loops.
    struct Table: @unchecked Sendable {
        private let bmp = UnicodeClasses.bmp

        @inline(__always)
        private func bits(_ c: Unicode.Scalar) -> Bits {
            c.value < 0x10000 ? Bits(rawValue: bmp[Int(c.value)]) : computeBits(c)
        }

        @inline(__always) func isSpace(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.space) }
        @inline(__always) func isAlpha(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.alpha) }

        /// White space and letter classes of the character starting at byte `i` (at or above
        /// 0x80) and its byte length, without building a `Unicode.Scalar` for the common
        /// two- and three-byte characters.
        @inline(__always)
        func spaceAndAlpha(_ s: UnsafeBufferPointer<UInt8>, _ i: Int) -> (space: Bool, alpha: Bool, length: Int) {
            let b0 = UInt32(s[i])
            let value: UInt32, length: Int
            if b0 < 0xE0, i + 1 < s.count {
                (value, length) = (((b0 & 0x1F) << 6) | (UInt32(s[i + 1]) & 0x3F), 2)
            } else if b0 >= 0xE0, b0 < 0xF0, i + 2 < s.count {
                (value, length) = (((b0 & 0x0F) << 12) | ((UInt32(s[i + 1]) & 0x3F) << 6) | (UInt32(s[i + 2]) & 0x3F), 3)
            } else {
                let (c, n) = UnicodeClasses.scalar(s, i)
                let b = bits(c)
                return (b.contains(.space), b.contains(.alpha), n)
            }
            let b = Bits(rawValue: bmp[Int(value)])
            return (b.contains(.space), b.contains(.alpha), length)
        }
        @inline(__always) func isDatatrovePunctuation(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.datatrove) }
        @inline(__always) func isDigit(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.digit) }
        @inline(__always) func isLower(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.lower) }
        @inline(__always) func isUpper(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.upper) }
        @inline(__always) func isIcon(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.icon) }
        @inline(__always) func isPunctuation(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.punctuation) }
        @inline(__always) func isSentenceTerminal(_ c: Unicode.Scalar) -> Bool { bits(c).contains(.terminal) }
    }

    private static func computeBits(_ c: Unicode.Scalar) -> Bits {
        var b: Bits = []
        let v = c.value
        switch v {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: b.insert(.space)
        default: break
        }
        let category = c.properties.generalCategory
        switch category {
        case .uppercaseLetter: b.formUnion([.alpha, .upper])
        case .lowercaseLetter: b.formUnion([.alpha, .lower])
        case .titlecaseLetter, .modifierLetter, .otherLetter: b.insert(.alpha)
        case .decimalNumber: b.insert(.digit)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: b.insert(.punctuation)
        case .otherSymbol: if !c.isASCII { b.insert(.icon) }
        default: break
        }
        let terminal = c.isASCII ? (c == "." || c == "!" || c == "?") : c.properties.isSentenceTerminal
        if terminal { b.insert(.terminal) }
        if v < 0x80 {
            if v < 0x20 && v != 0x09 && v != 0x0A || v == 0x7F || asciiPunctuation(UInt8(v)) { b.insert(.datatrove) }
        } else if v < 0xA0 || extraPunctuation.contains(v) || terminal {
            b.insert(.datatrove)
        }
        return b
    }

    /// Python's `str.isspace` (what `strip()` and `split()` remove).
    @inline(__always) static func isSpace(_ c: Unicode.Scalar) -> Bool { Table().isSpace(c) }
    /// Python's `str.isalpha`: letters (general categories Lu, Ll, Lt, Lm, Lo).
    @inline(__always) static func isAlpha(_ c: Unicode.Scalar) -> Bool { Table().isAlpha(c) }
    @inline(__always) static func isLower(_ c: Unicode.Scalar) -> Bool { Table().isLower(c) }
    @inline(__always) static func isUpper(_ c: Unicode.Scalar) -> Bool { Table().isUpper(c) }
    @inline(__always) static func isDigit(_ c: Unicode.Scalar) -> Bool { Table().isDigit(c) }
    /// Unicode punctuation (general category P*), spaCy's `is_punct` per character.
    @inline(__always) static func isPunctuation(_ c: Unicode.Scalar) -> Bool { Table().isPunctuation(c) }
    /// Other symbols (general category So: emoji, pictographs), which spaCy splits off.
    @inline(__always) static func isIcon(_ c: Unicode.Scalar) -> Bool { Table().isIcon(c) }
    /// Sentence terminators (Unicode Sentence_Terminal): `.`, `!`, `?`, `。`, `।`, ...
    @inline(__always) static func isSentenceTerminal(_ c: Unicode.Scalar) -> Bool { Table().isSentenceTerminal(c) }
    /// datatrove's `PUNCTUATION_SET`: ASCII punctuation, control characters, sentence
    /// terminators, and a few dozen quotes, dashes and CJK brackets. A word made only of these
    /// is a "symbol word" to the Gopher rules.
    @inline(__always) static func isDatatrovePunctuation(_ c: Unicode.Scalar) -> Bool { Table().isDatatrovePunctuation(c) }

    private static let extraPunctuation: Set<UInt32> = [
        0xAB, 0xB4, 0xBB, 0x2013, 0x2014, 0x2019, 0x201C, 0x201D, 0x201E, 0x2026, 0x2236, 0x2501, 0x25BA,
        0x3001, 0x3002, 0x3008, 0x3009, 0x300A, 0x300B, 0x300C, 0x300D, 0x3010, 0x3011,
        0xFF01, 0xFF05, 0xFF08, 0xFF09, 0xFF0C, 0xFF0E, 0xFF11, 0xFF1A, 0xFF1B, 0xFF1F, 0xFF5E,
    ]

    @inline(__always) static func asciiLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    @inline(__always) static func asciiDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    @inline(__always) static func asciiPunctuation(_ b: UInt8) -> Bool {
        (0x21...0x2F).contains(b) || (0x3A...0x40).contains(b) || (0x5B...0x60).contains(b) || (0x7B...0x7E).contains(b)
    }
}
