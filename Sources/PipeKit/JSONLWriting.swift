/// Appends JSON to byte buffers directly: the write side of `documents` shards, without
/// building `String`s or going through `JSONEncoder`.
public enum JSONLWriting {
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    /// Appends `bytes` (UTF-8) as a quoted JSON string.
    public static func appendString(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        appendEscaped(bytes, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    /// Appends `bytes` escaped as the inside of a JSON string. Escaping is byte by byte, so a
    /// text may be escaped in pieces cut anywhere, even inside a character.
    public static func appendEscaped(_ bytes: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        var runStart = 0
        for i in 0..<bytes.count {
            let c = bytes[i]
            guard c < 0x20 || c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<i]))
            switch c {
            case UInt8(ascii: "\""): out.append(contentsOf: [0x5C, 0x22])
            case UInt8(ascii: "\\"): out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            default:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u"), 0x30, 0x30, hex[Int(c >> 4)], hex[Int(c & 0xF)]])
            }
            runStart = i + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[runStart..<bytes.count]))
    }

    public static func appendString(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { appendString($0, to: &out) }
    }

    /// Appends one document line: `{"id":…,"text":…,"source":…,"meta":…}\n`. The text is
    /// escaped `piece` bytes at a time with `drain` called after each piece, so a caller that
    /// empties `out` there never holds a long text's line whole (control bytes grow sixfold).
    public static func appendDocument(id: String, text: UnsafeBufferPointer<UInt8>, source: String?, meta: JSONValue?,
                                      to out: inout [UInt8], piece: Int = .max,
                                      drain: (inout [UInt8]) throws -> Void = { _ in }) rethrows {
        out.append(contentsOf: Array(#"{"id":"#.utf8))
        appendString(id, to: &out)
        out.append(contentsOf: Array(#","text":""#.utf8))
        var start = 0
        while start < text.count {
            let end = start + min(piece, text.count - start)
            appendEscaped(UnsafeBufferPointer(rebasing: text[start..<end]), to: &out)
            try drain(&out)
            start = end
        }
        out.append(UInt8(ascii: "\""))
        if let source {
            out.append(contentsOf: Array(#","source":"#.utf8))
            appendString(source, to: &out)
        }
        if let meta {
            out.append(contentsOf: Array(#","meta":"#.utf8))
            out.append(contentsOf: Array(meta.canonicalJSON.utf8))
        }
        out.append(contentsOf: Array("}\n".utf8))
    }
}
