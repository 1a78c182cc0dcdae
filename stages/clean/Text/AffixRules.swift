/// What comes off the front (prefixes) and back (suffixes) of a white-space-free piece, and
/// where its middle splits (infixes), after spaCy's English punctuation rules. A value holds
/// pointers to its class tables, so the hot path reads them without lazy-initialization checks.
struct AffixRules: @unchecked Sendable {
    typealias Bytes = UnsafeBufferPointer<UInt8>
    private let classes = UnicodeClasses.Table()
    private let affixes = AffixRules.tablePointer

    /// Punctuation that splits off either end as one character.
    private static let edgePunctuation: Set<UInt32> = Set(",:;!?()[]{}<>_#*&".unicodeScalars.map(\.value)
        + [0xBF, 0x61F, 0xA1, 0x3002, 0xFF1F, 0xFF01, 0xFF0C, 0x3001, 0xFF1B, 0xFF1A, 0xFF5E, 0xB7, 0x964, 0x60C, 0x6D4, 0x61B, 0x66A, 0x2026])
    /// Quotes and brackets of all scripts.
    private static let quotes: Set<UInt32> = Set("'\"`".unicodeScalars.map(\.value)
        + [0x201D, 0x201C, 0x2018, 0xB4, 0x2019, 0x201A, 0x201E, 0xBB, 0xAB, 0x300C, 0x300D, 0x300E, 0x300F,
           0xFF08, 0xFF09, 0x3014, 0x3015, 0x3010, 0x3011, 0x300A, 0x300B, 0x3008, 0x3009, 0x2329, 0x232A, 0x27E6, 0x27E7])
    private static let currency: Set<UInt32> = Set([0x24, 0xA3, 0x20AC, 0xA5, 0xE3F, 0xFDFC] + Array(0x20A0...0x20BF))
    /// Characters that only split off the front.
    private static let frontOnly: Set<UInt32> = [0xA7, 0x25, 0x3D, 0x2014, 0x2013]

    /// Which of the sets above each BMP scalar is in (bit 1 edge, 2 quote, 4 currency, 8 front
    /// only), built once so the hot path does one load instead of hashing.
    nonisolated(unsafe) private static let tablePointer: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 0x10000)
        t.initialize(repeating: 0, count: 0x10000)
        for v in edgePunctuation { t[Int(v)] |= 1 }
        for v in quotes { t[Int(v)] |= 2 }
        for v in currency { t[Int(v)] |= 4 }
        for v in frontOnly { t[Int(v)] |= 8 }
        return UnsafePointer(t)
    }()

    @inline(__always)
    private func has(_ c: Unicode.Scalar, _ bit: UInt8) -> Bool { c.value < 0x10000 && affixes[Int(c.value)] & bit != 0 }
    @inline(__always) private func isQuote(_ c: Unicode.Scalar) -> Bool { has(c, 2) }
    @inline(__always) private func isCurrency(_ c: Unicode.Scalar) -> Bool { has(c, 4) }
    /// Units split off a number's end (`10km` -> `10 km`), longest first.
    private static let units: [[UInt8]] = ["km²", "km³", "km", "m²", "m³", "dm²", "dm³", "dm", "cm²", "cm³", "cm", "mm²", "mm³",
                                           "mm", "ha", "µm", "nm", "yd", "in", "ft", "kg", "mg", "µg", "lb", "oz", "m/s", "km/h",
                                           "kmh", "mph", "hPa", "Pa", "mbar", "mb", "MB", "kb", "KB", "gb", "GB", "tb", "TB",
                                           "m", "g", "t", "T", "G", "M", "K", "%"].map { Array($0.utf8) }

    private func isEdgePunctuation(_ c: Unicode.Scalar) -> Bool {
        has(c, 3) || classes.isIcon(c) && c.value != 0xB0
    }

    /// Bytes to split off the front of `r`, or 0.
    func prefixLength(_ s: Bytes, _ r: Range<Int>) -> Int {
        let (c, n) = UnicodeClasses.scalar(s, r.lowerBound)
        if c == "." {
            var k = r.lowerBound
            while k < r.upperBound, s[k] == UInt8(ascii: ".") { k += 1 }
            return k - r.lowerBound >= 2 ? k - r.lowerBound : 0
        }
        if c == "+" {
            let next = r.lowerBound + 1
            return next < r.upperBound && UnicodeClasses.asciiDigit(s[next]) ? 0 : 1
        }
        if has(c, 1 | 2 | 4 | 8) || classes.isIcon(c) && c.value != 0xB0 { return n }
        if r.count >= 3, s[r.lowerBound + 1] == UInt8(ascii: "$"), [UInt8(ascii: "C"), UInt8(ascii: "A")].contains(s[r.lowerBound]) {
            return 2
        }
        if r.count >= 3, s[r.lowerBound] == UInt8(ascii: "U"), s[r.lowerBound + 1] == UInt8(ascii: "S"), s[r.lowerBound + 2] == UInt8(ascii: "$") {
            return 3
        }
        return 0
    }

    /// Bytes to split off the back of `r`, or 0: the longest of the matching suffix rules
    /// (the leftmost start, as a regex search anchored at the end finds it).
    func suffixLength(_ s: Bytes, _ r: Range<Int>) -> Int {
        guard !r.isEmpty else { return 0 }
        var start = r.upperBound
        let last = UnicodeClasses.previousStart(s, before: r.upperBound)
        let (c, _) = UnicodeClasses.scalar(s, last)
        func before(_ i: Int) -> Unicode.Scalar? {
            i > r.lowerBound ? UnicodeClasses.scalar(s, UnicodeClasses.previousStart(s, before: i)).0 : nil
        }
        if isEdgePunctuation(c) || c == "\u{2014}" || c == "\u{2013}" { start = last }
        var dots = r.upperBound
        while dots > r.lowerBound, s[dots - 1] == UInt8(ascii: ".") { dots -= 1 }
        if r.upperBound - dots >= 2 { start = min(start, dots) }
        if c == "s" || c == "S", let apostrophe = before(last), apostrophe == "'" || apostrophe == "\u{2019}" {
            start = min(start, UnicodeClasses.previousStart(s, before: last))
        }
        if let p = before(last) {
            if c == "+", classes.isDigit(p) { start = min(start, last) }
            if isCurrency(c), classes.isDigit(p) { start = min(start, last) }
            if c == "." {
                let q = before(UnicodeClasses.previousStart(s, before: last))
                let splits = classes.isDigit(p) || classes.isLower(p) || p == "%" || p == "\u{B2}" || p == "-" || p == "+"
                    || has(p, 1 | 2)
                    || classes.isUpper(p) && q.map(classes.isUpper) == true
                    || q == "\u{B0}" && (p == "F" || p == "f" || p == "C" || p == "c" || p == "K" || p == "k")
                if splits { start = min(start, last) }
            }
        }
        // A unit comes off only after a digit, within the last six bytes.
        var digitNear = false
        for k in max(r.lowerBound, r.upperBound - 6)..<(r.upperBound - 1) where UnicodeClasses.asciiDigit(s[k]) { digitNear = true }
        for unit in Self.units where digitNear && unit.count < r.count {
            let unitStart = r.upperBound - unit.count
            guard unitStart < start, UnicodeClasses.asciiDigit(s[unitStart - 1]) else { continue }
            if (0..<unit.count).allSatisfy({ s[unitStart + $0] == unit[$0] }) { start = unitStart }
        }
        return r.upperBound - start
    }

    /// Appends the pieces of `r` split at infixes: ellipses and symbols anywhere, hyphens and
    /// `: < > = /` between a letter or digit and a letter, `,` between letters, `.` between a
    /// lower-case and an upper-case letter, arithmetic signs between digits.
    func splitInfixes(_ s: Bytes, _ r: Range<Int>, into words: inout [Range<Int>]) {
        var start = r.lowerBound
        var i = r.lowerBound
        var previous: Unicode.Scalar? = nil
        while i < r.upperBound {
            let (c, n) = UnicodeClasses.scalar(s, i)
            var matchEnd = i
            if c == "." && i + 1 < r.upperBound && s[i + 1] == UInt8(ascii: ".") {
                matchEnd = i
                while matchEnd < r.upperBound, s[matchEnd] == UInt8(ascii: ".") { matchEnd += 1 }
            } else if c == "\u{2026}" || classes.isIcon(c) && c.value != 0xB0 {
                matchEnd = i + n
            } else if let p = previous, i + n < r.upperBound {
                let next = UnicodeClasses.scalar(s, i + n).0
                let pAlpha = classes.isAlpha(p), pDigit = classes.isDigit(p), nextAlpha = classes.isAlpha(next)
                if pDigit, c == "+" || c == "-" || c == "*" || c == "^", classes.isDigit(next) || next == "-" {
                    matchEnd = i + n
                } else if c == ".", classes.isLower(p) || isQuote(p), classes.isUpper(next) || isQuote(next) {
                    matchEnd = i + n
                } else if c == ",", pAlpha, nextAlpha {
                    matchEnd = i + n
                } else if pAlpha || pDigit, nextAlpha, isInfixSeparator(c) {
                    matchEnd = i + n
                }
            }
            if matchEnd > i, i != r.lowerBound {
                if i != start { words.append(start..<i) }
                words.append(i..<matchEnd)
                start = matchEnd
                previous = UnicodeClasses.scalar(s, UnicodeClasses.previousStart(s, before: matchEnd)).0
                i = matchEnd
                continue
            }
            previous = c
            i = matchEnd > i ? matchEnd : i + n
        }
        if start < r.upperBound { words.append(start..<r.upperBound) }
    }

    /// Hyphens, dashes, `~`, `:`, `<`, `>`, `=` and `/`: they split a word between letters.
    @inline(__always)
    private func isInfixSeparator(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "-", "\u{2013}", "\u{2014}", "~", ":", "<", ">", "=", "/": return true
        default: return false
        }
    }

    /// A URL or host name (`https://a.b/c`, `www.x.org`, `example.com/path`), kept whole.
    func isURL(_ s: Bytes, _ r: Range<Int>) -> Bool {
        var i = r.lowerBound
        // Optional scheme.
        var k = i
        while k + 2 < r.upperBound, UnicodeClasses.asciiLetter(s[k]) || s[k] == UInt8(ascii: "+") || s[k] == UInt8(ascii: "-") { k += 1 }
        if k - i >= 2, k + 2 < r.upperBound, s[k] == UInt8(ascii: ":"), s[k + 1] == UInt8(ascii: "/"), s[k + 2] == UInt8(ascii: "/") {
            i = k + 3
        }
        // Host: labels joined by dots, the last one (the top-level domain) two or more letters.
        var labels = 0, label = 0, labelLetters = true
        while i < r.upperBound {
            let b = s[i]
            if b == UInt8(ascii: ".") {
                if label == 0 { return false }
                labels += 1; label = 0; labelLetters = true
            } else if UnicodeClasses.asciiLetter(b) || UnicodeClasses.asciiDigit(b) || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b >= 0x80 {
                label += 1
                if !(b >= 0x61 && b <= 0x7A) && b < 0x80 { labelLetters = false }
            } else {
                break
            }
            i += 1
        }
        guard labels >= 1, label >= 2, labelLetters else { return false }
        if i == r.upperBound { return true }
        return [UInt8(ascii: "/"), UInt8(ascii: "?"), UInt8(ascii: "#"), UInt8(ascii: ":")].contains(s[i])
    }
}
