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
/// text, and `conversion` and text `resource` records; reads past the rest without keeping
/// them. A record to keep that is longer than `maxRecordBytes` is read past and reported; a
/// header block longer than that, or a file breaking the format, is `CorruptInput`.
struct WARCReader {
    /// What `next` found.
    enum Entry {
        case record(WARCRecord)
        /// A record to keep, longer than the cap, at this offset.
        case oversized(offset: Int, bytes: Int)
    }

    /// What a record's headers say its content is, when it is kept.
    private enum Content {
        /// An HTTP response, kept if its body is HTML or text.
        case httpResponse
        /// A document of this format.
        case document(String)
    }

    private var reader: BufferedReader
    let path: String
    let maxRecordBytes: Int

    init(_ stream: any ByteStream, path: String, maxRecordBytes: Int) {
        reader = BufferedReader(stream)
        self.path = path
        self.maxRecordBytes = maxRecordBytes
    }

    /// The next line without its CR LF, or nil at the end; `budget` is what the header block
    /// may still take.
    private mutating func headerLine(near offset: Int, budget: inout Int) throws -> [UInt8]? {
        var text: [UInt8] = []
        guard let found = try reader.line(limit: max(0, budget), { text = Array($0) }) else { return nil }
        guard found == .line else {
            throw CorruptInput("\(path): WARC header block near byte \(offset) is longer than max_record_bytes (\(maxRecordBytes))")
        }
        budget -= text.count + 1
        if text.last == 0x0D { text.removeLast() }
        return text
    }

    /// The next kept record or oversized one, or nil at the end.
    mutating func next() throws -> Entry? {
        while true {
            var offset = reader.position, budget = maxRecordBytes
            var first = try headerLine(near: offset, budget: &budget)
            while first?.isEmpty == true {
                offset = reader.position
                budget = maxRecordBytes
                first = try headerLine(near: offset, budget: &budget)
            }
            guard let versionLine = first else { return nil }
            guard versionLine.starts(with: Array("WARC/".utf8)) else {
                throw CorruptInput("\(path): expected a WARC record near byte \(offset), found \(String(decoding: versionLine.prefix(40), as: UTF8.self))")
            }
            var headers: [String: String] = [:]
            while let header = try headerLine(near: offset, budget: &budget), !header.isEmpty {
                guard let colon = header.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let name = String(decoding: header[..<colon], as: UTF8.self).lowercased()
                headers[name] = String(decoding: header[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            guard let length = headers["content-length"].flatMap(Int.init), length >= 0 else {
                throw CorruptInput("\(path): WARC record near byte \(offset) has no Content-Length")
            }
            let truncated = CorruptInput("\(path): WARC record near byte \(offset) is truncated")
            let kept = Self.content(type: headers["warc-type"] ?? "", contentType: (headers["content-type"] ?? "").lowercased())
            guard let kind = kept, length <= maxRecordBytes else {
                guard try reader.skip(length) else { throw truncated }
                if kept != nil { return .oversized(offset: offset, bytes: length) }
                continue
            }
            guard let content = try reader.bytes(length) else { throw truncated }
            let uri = headers["warc-target-uri"], type = headers["warc-type"] ?? ""
            switch kind {
            case .httpResponse:
                if let (body, format) = Self.httpBody(content) {
                    return .record(WARCRecord(type: type, uri: uri, offset: offset, body: body, format: format))
                }
            case .document(let format):
                return .record(WARCRecord(type: type, uri: uri, offset: offset, body: content, format: format))
            }
        }
    }

    /// What a record of this WARC-Type and (lowercased) Content-Type holds, nil when it is not kept.
    private static func content(type: String, contentType: String) -> Content? {
        switch type {
        case "response" where contentType.contains("application/http"): return .httpResponse
        case "conversion": return .document("text")
        case "resource" where contentType.hasPrefix("text/"): return .document(contentType.contains("html") ? "html" : "text")
        default: return nil
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
