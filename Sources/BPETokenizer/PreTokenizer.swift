/// GPT-2 pre-tokenization over UTF-8 bytes, equal to the regex
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// with leftmost-first alternation, as Hugging Face's ByteLevel pre-tokenizer applies it.
///
/// It reports byte ranges and never allocates. ASCII is classified by table; other scalars by
/// their Unicode general category (letters L*, numbers N*) and White_Space property.
package struct PreTokenizer {
    package enum Class: UInt8 { case other = 0, letter, number, space }

    /// Class tables in plain memory (read through pointers: no lazy-global check per byte).
    nonisolated(unsafe) private static let tables: UnsafePointer<Class> = {
        let table = UnsafeMutablePointer<Class>.allocate(capacity: 0x10000)
        for v in 0..<0x10000 { table[v] = v < 128 ? asciiClasses[v] : classify(UInt32(v)) }
        return UnsafePointer(table)
    }()

    private static let asciiClasses: [Class] = (0..<128).map { b in
        let s = Unicode.Scalar(UInt8(b))
        if s.properties.isWhitespace { return .space }
        if (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) { return .letter }
        if (0x30...0x39).contains(b) { return .number }
        return .other
    }

    package static func classify(_ value: UInt32) -> Class {
        guard let scalar = Unicode.Scalar(value) else { return .other }
        let p = scalar.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The class and byte length of the scalar starting at `i`. Text is valid UTF-8 by
    /// contract; a truncated or stray byte is classed `other` on its own, never read past.
    @inline(__always)
    package static func scalar(_ b: UnsafeBufferPointer<UInt8>, _ i: Int, _ bmp: UnsafePointer<Class>) -> (Class, Int) {
        let c0 = b[i]
        if c0 < 0x80 { return (bmp[Int(c0)], 1) }
        let length = c0 < 0xC0 ? 1 : c0 < 0xE0 ? 2 : c0 < 0xF0 ? 3 : 4
        if length == 1 || i + length > b.count { return (.other, 1) }
        if c0 < 0xE0 {
            let v = (UInt32(c0 & 0x1F) << 6) | UInt32(b[i + 1] & 0x3F)
            return (bmp[Int(v)], 2)
        }
        if c0 < 0xF0 {
            let v = (UInt32(c0 & 0x0F) << 12) | (UInt32(b[i + 1] & 0x3F) << 6) | UInt32(b[i + 2] & 0x3F)
            return (bmp[Int(v)], 3)
        }
        let v = (UInt32(c0 & 0x07) << 18) | (UInt32(b[i + 1] & 0x3F) << 12) | (UInt32(b[i + 2] & 0x3F) << 6) | UInt32(b[i + 3] & 0x3F)
        return (classify(v), 4)
    }

    /// Calls `emit(start, end)` for each pre-token of the UTF-8 text `b`.
    @inline(__always)
    package static func split(_ b: UnsafeBufferPointer<UInt8>, _ emit: (Int, Int) -> Void) {
        let bmp = tables
        let n = b.count
        var i = 0
        while i < n {
            let (cls, len) = scalar(b, i, bmp)
            // 's 't 're 've 'm 'll 'd
            if b[i] == 0x27, i + 1 < n {
                let c1 = b[i + 1]
                if c1 == 0x73 || c1 == 0x74 || c1 == 0x6D || c1 == 0x64 {  // s t m d
                    emit(i, i + 2); i += 2; continue
                }
                if i + 2 < n {
                    let c2 = b[i + 2]
                    if (c1 == 0x72 && c2 == 0x65) || (c1 == 0x76 && c2 == 0x65) || (c1 == 0x6C && c2 == 0x6C) {  // re ve ll
                        emit(i, i + 3); i += 3; continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`
            var runClass = cls
            var j = i + len
            if b[i] == 0x20, j < n {
                let (next, nextLen) = scalar(b, j, bmp)
                if next != .space {
                    runClass = next
                    j += nextLen
                }
            }
            if runClass != .space {
                while j < n {
                    let (c, l) = scalar(b, j, bmp)
                    if c != runClass { break }
                    j += l
                }
                emit(i, j); i = j; continue
            }
            // `\s+(?!\S)` then `\s+`: a run of white space, leaving its last character to the
            // next token when something other than white space follows.
            var lastStart = i
            j = i + len
            while j < n {
                let (c, l) = scalar(b, j, bmp)
                if c != .space { break }
                lastStart = j
                j += l
            }
            if j < n && lastStart > i {
                emit(i, lastStart); i = lastStart
            } else {
                emit(i, j); i = j
            }
        }
    }
}
