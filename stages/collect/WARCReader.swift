import Foundation
import PipeKit

/// One WARC record's useful parts.
struct WARCRecord {
    var type: String
    var uri: String?
    /// Offset of the record in the (decompressed) stream.
    var offset: Int
    /// The document: an HTTP response's body, or a conversion's (WET) text.
    var body: [UInt8]
    /// `html` or `text`.
    var format: String
}

/// Reads WARC and WET files record by record (ISO 28500): `WARC/1.x` header block, blank line,
/// `Content-Length` bytes of content. Keeps `response` records whose HTTP body is HTML or
/// text, and `conversion` and text `resource` records; skips the rest.
struct WARCReader {
    private var stream: any ByteStream
    private var buffer: [UInt8] = []
    private var start = 0
    private var consumed = 0
    private var ended = false
    let path: String

    init(_ stream: any ByteStream, path: String) {
        self.stream = stream
        self.path = path
    }

    /// Ensures `count` bytes are buffered after `start`; false at the end of the stream.
    private mutating func fill(_ count: Int) throws -> Bool {
        while buffer.count - start < count {
            if ended { return false }
            if start > 1 << 20 {
                buffer.removeFirst(start)
                consumed += start
                start = 0
            }
            if try stream.read(into: &buffer, limit: 1 << 20) == 0 { ended = true }
        }
        return true
    }

    /// The next line without its CR LF, or nil at the end.
    private mutating func line() throws -> [UInt8]? {
        var searched = 0  // bytes after `start` already searched (stays valid when fill compacts)
        while true {
            if let newline = buffer[(start + searched)...].firstIndex(of: 0x0A) {
                var end = newline
                if end > start, buffer[end - 1] == 0x0D { end -= 1 }
                let text = Array(buffer[start..<end])
                start = newline + 1
                return text
            }
            searched = buffer.count - start
            if !(try fill(searched + 1)) {
                guard start < buffer.count else { return nil }
                let text = Array(buffer[start...])
                start = buffer.count
                return text
            }
        }
    }

    /// The next kept record, or nil at the end.
    mutating func next() throws -> WARCRecord? {
        while true {
            var first: [UInt8]?
            repeat { first = try line() } while first?.isEmpty == true
            guard let versionLine = first else { return nil }
            let offset = consumed + start - versionLine.count - 2
            guard versionLine.starts(with: Array("WARC/".utf8)) else {
                throw StageError("\(path): expected a WARC record near byte \(max(0, offset)), found \(String(decoding: versionLine.prefix(40), as: UTF8.self))")
            }
            var headers: [String: String] = [:]
            while let header = try line(), !header.isEmpty {
                guard let colon = header.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = String(decoding: header[..<colon], as: UTF8.self).lowercased()
                let value = String(decoding: header[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
                headers[name] = value
            }
            guard let length = headers["content-length"].flatMap(Int.init), length >= 0 else {
                throw StageError("\(path): WARC record near byte \(max(0, offset)) has no Content-Length")
            }
            guard try fill(length) else { throw StageError("\(path): WARC record near byte \(max(0, offset)) is truncated") }
            let content = Array(buffer[start..<(start + length)])
            start += length
            let type = headers["warc-type"] ?? ""
            let uri = headers["warc-target-uri"]
            let contentType = (headers["content-type"] ?? "").lowercased()
            switch type {
            case "response" where contentType.contains("application/http"):
                if let (body, format) = Self.httpBody(content) {
                    return WARCRecord(type: type, uri: uri, offset: offset, body: body, format: format)
                }
            case "conversion":
                return WARCRecord(type: type, uri: uri, offset: offset, body: content, format: "text")
            case "resource" where contentType.hasPrefix("text/"):
                return WARCRecord(type: type, uri: uri, offset: offset, body: content,
                                  format: contentType.contains("html") ? "html" : "text")
            default:
                break
            }
        }
    }

    /// The body of an HTTP response whose Content-Type is HTML or text.
    static func httpBody(_ message: [UInt8]) -> ([UInt8], String)? {
        let separator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
        guard let end = (0..<max(0, message.count - 3)).first(where: { message[$0..<($0 + 4)].elementsEqual(separator) }) else { return nil }
        let head = String(decoding: message[..<end], as: UTF8.self).lowercased()
        guard head.hasPrefix("http/"), let statusText = head.split(separator: " ").dropFirst().first,
              let status = Int(statusText), (200..<300).contains(status) else { return nil }
        let contentType = head.split(separator: "\r\n").first { $0.hasPrefix("content-type:") } ?? ""
        let format: String
        if contentType.contains("html") { format = "html" } else if contentType.contains("text/plain") { format = "text" } else { return nil }
        return (Array(message[(end + 4)...]), format)
    }
}
