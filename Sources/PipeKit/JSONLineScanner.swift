/// Pulls one string field out of a JSON object line without building the object: the hot
/// path for stages that stream `documents` shards (tens of MB/s with Foundation's decoder,
/// hundreds with this).
///
/// Only the top level is searched; nested objects and arrays are skipped. Escapes, including
/// `\uXXXX` surrogate pairs, are decoded into UTF-8 (a lone surrogate becomes U+FFFD).
public enum JSONLineScanner {
    /// Appends the UTF-8 bytes of top-level string field `key` of `line` to `out`.
    /// Returns false if the line is not an object or has no such string field.
    public static func stringField(_ key: StaticString, in line: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) -> Bool {
        stringField(UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount), in: line, into: &out)
    }

    /// The same, with the key given as UTF-8 bytes (for field names chosen at run time).
    public static func stringField(_ keyBytes: UnsafeBufferPointer<UInt8>, in line: UnsafeBufferPointer<UInt8>,
                                   into out: inout [UInt8]) -> Bool {
        var i = skipSpace(line, 0)
        guard i < line.count, line[i] == UInt8(ascii: "{") else { return false }
        i += 1
        while true {
            i = skipSpace(line, i)
            guard i < line.count else { return false }
            if line[i] == UInt8(ascii: "}") { return false }
            guard line[i] == UInt8(ascii: "\"") else { return false }
            // Key: compare raw bytes (keys we look for have no escapes).
            let keyStart = i + 1
            guard let keyEnd = endOfString(line, keyStart) else { return false }
            let matches = keyEnd - keyStart == keyBytes.count
                && (0..<keyBytes.count).allSatisfy { line[keyStart + $0] == keyBytes[$0] }
            i = skipSpace(line, keyEnd + 1)
            guard i < line.count, line[i] == UInt8(ascii: ":") else { return false }
            i = skipSpace(line, i + 1)
            guard i < line.count else { return false }
            if matches {
                guard line[i] == UInt8(ascii: "\"") else { return false }
                return unescape(line, i + 1, into: &out) != nil
            }
            guard let next = skipValue(line, i) else { return false }
            i = skipSpace(line, next)
            guard i < line.count else { return false }
            if line[i] == UInt8(ascii: ",") { i += 1 } else { return false }
        }
    }

    @inline(__always)
    static func skipSpace(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int {
        var i = i
        while i < b.count, b[i] == 0x20 || b[i] == 0x09 || b[i] == 0x0A || b[i] == 0x0D { i += 1 }
        return i
    }

    /// Index of the closing quote of a string whose contents start at `i`.
    static func endOfString(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        var i = i
        while true {
            i = nextQuoteOrBackslash(b, i)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "\"") { return i }
            i += 2
        }
    }

    /// Index of the first `"` or `\` at or after `i`, or `b.count`: eight bytes at a time,
    /// each byte compared by the zero-byte test on `x ^ 0x22…22` and `x ^ 0x5C…5C`. Only the
    /// lowest flagged byte is used, and it is always a true match (a false flag needs a borrow
    /// from a true match below it).
    @inline(__always)
    static func nextQuoteOrBackslash(_ b: UnsafeBufferPointer<UInt8>, _ start: Int) -> Int {
        guard let base = b.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        var i = start
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        while i + 8 <= b.count {
            let x = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let quote = x ^ 0x2222_2222_2222_2222, backslash = x ^ 0x5C5C_5C5C_5C5C_5C5C
            let found = ((quote &- ones) & ~quote | (backslash &- ones) & ~backslash) & highs
            if found != 0 { return i + found.trailingZeroBitCount / 8 }
            i += 8
        }
        while i < b.count, b[i] != UInt8(ascii: "\""), b[i] != UInt8(ascii: "\\") { i += 1 }
        return i
    }

    /// The index just past the value starting at `i`.
    static func skipValue(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let c = b[i]
        if c == UInt8(ascii: "\"") { return endOfString(b, i + 1).map { $0 + 1 } }
        if c == UInt8(ascii: "{") || c == UInt8(ascii: "[") {
            var depth = 0, j = i
            while j < b.count {
                let d = b[j]
                if d == UInt8(ascii: "\"") {
                    guard let end = endOfString(b, j + 1) else { return nil }
                    j = end + 1
                    continue
                }
                if d == UInt8(ascii: "{") || d == UInt8(ascii: "[") { depth += 1 }
                if d == UInt8(ascii: "}") || d == UInt8(ascii: "]") {
                    depth -= 1
                    if depth == 0 { return j + 1 }
                }
                j += 1
            }
            return nil
        }
        var j = i
        while j < b.count, b[j] != UInt8(ascii: ","), b[j] != UInt8(ascii: "}"), b[j] != 0x20 { j += 1 }
        return j
    }

    /// Decodes the string contents starting at `i` into UTF-8; returns the index after the closing quote.
    static func unescape(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, into out: inout [UInt8]) -> Int? {
        var i = i
        var runStart = i
        while true {
            i = nextQuoteOrBackslash(b, i)
            guard i < b.count else { return nil }
            if b[i] == UInt8(ascii: "\"") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
                return i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: b[runStart..<i]))
            guard i + 1 < b.count else { return nil }
            let e = b[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard var scalar = hex4(b, i) else { return nil }
                i += 4
                if (0xD800..<0xDC00).contains(scalar) {
                    if i + 6 <= b.count, b[i] == UInt8(ascii: "\\"), b[i + 1] == UInt8(ascii: "u"),
                       let low = hex4(b, i + 2), (0xDC00..<0xE000).contains(low) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        i += 6
                    } else {
                        scalar = 0xFFFD
                    }
                } else if (0xDC00..<0xE000).contains(scalar) {
                    scalar = 0xFFFD
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e)  // \" \\ \/
            }
            runStart = i
        }
    }

    static func hex4(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32? {
        guard i + 4 <= b.count else { return nil }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = b[i + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: return nil
            }
            v = v << 4 | d
        }
        return v
    }

    static func appendUTF8(_ v: UInt32, to out: inout [UInt8]) {
        switch v {
        case 0..<0x80: out.append(UInt8(v))
        case 0x80..<0x800:
            out.append(UInt8(0xC0 | (v >> 6))); out.append(UInt8(0x80 | (v & 0x3F)))
        case 0x800..<0x10000:
            out.append(UInt8(0xE0 | (v >> 12))); out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        default:
            out.append(UInt8(0xF0 | (v >> 18))); out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F))); out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }
}
