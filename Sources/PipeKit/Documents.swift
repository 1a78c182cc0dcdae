import Foundation

/// One document of a `documents` artifact: a line of a JSONL shard.
public struct Document: Codable, Sendable, Equatable {
    public var id: String
    public var text: String
    public var source: String?
    public var meta: JSONValue?

    public init(id: String, text: String, source: String? = nil, meta: JSONValue? = nil) {
        self.id = id
        self.text = text
        self.source = source
        self.meta = meta
    }
}

/// Reads the documents of a folder of shards `part-*.jsonl`, in shard order, one line at a time
/// in bounded memory. A line that is not a document, a line longer than `maxLineBytes` or a
/// shard that cannot be read is an error naming the shard and line, never skipped.
public struct DocumentsReader {
    /// The longest document line read by default (64 MiB).
    public static let defaultMaxLineBytes = 64 << 20

    public let shards: [URL]
    public let maxLineBytes: Int

    public init(folder: URL, maxLineBytes: Int = defaultMaxLineBytes) throws {
        shards = try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)
            .filter { $0.lastPathComponent.hasPrefix("part-") && $0.pathExtension == "jsonl" }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        self.maxLineBytes = maxLineBytes
    }

    /// Calls `body` with each document, in order.
    public func forEach(_ body: (Document) throws -> Void) throws {
        let decoder = JSONDecoder()
        for shard in shards {
            try LineReader.forEachLine(of: shard, maxLineBytes: maxLineBytes) { line, number in
                guard !line.isEmpty else { return }
                let document: Document
                do {
                    document = try decoder.decode(Document.self, from: Data(buffer: line))
                } catch {
                    throw StageError("\(shard.lastPathComponent):\(number): not a document (a JSON object with \"id\" and \"text\" strings)")
                }
                try body(document)
            }
        }
    }
}

/// Writes documents into numbered JSONL shards, starting a new shard after `shardBytes`.
public final class DocumentsWriter {
    private let folder: URL
    private let shardBytes: Int
    private var handle: FileHandle?
    private var buffer: [UInt8] = []
    private var written = 0
    public private(set) var shards = 0
    public private(set) var count = 0
    public private(set) var textBytes = 0

    public init(folder: URL, shardBytes: Int = 64 << 20) {
        self.folder = folder
        self.shardBytes = shardBytes
    }

    public func write(_ document: Document) throws {
        var text = document.text
        try text.withUTF8 { try write(id: document.id, text: $0, source: document.source, meta: document.meta) }
    }

    /// Writes one document from UTF-8 bytes (which must be valid UTF-8).
    public func write(id: String, text: UnsafeBufferPointer<UInt8>, source: String?, meta: JSONValue?) throws {
        if handle == nil || written >= shardBytes { try startShard() }
        var lineBytes = -buffer.count
        let file = handle
        try JSONLWriting.appendDocument(id: id, text: text, source: source, meta: meta, to: &buffer, piece: 1 << 20) { out in
            guard out.count >= 1 << 20, let file else { return }
            lineBytes += out.count
            try file.write(contentsOf: out)
            out.removeAll(keepingCapacity: true)
        }
        written += lineBytes + buffer.count
        count += 1
        textBytes += text.count
        if buffer.count >= 1 << 20 { try flush() }
    }

    /// Writes one document's JSON line as it is (used to pass documents through unchanged).
    public func write(rawLine: UnsafeBufferPointer<UInt8>) throws {
        if handle == nil || written >= shardBytes { try startShard() }
        buffer.append(contentsOf: rawLine)
        buffer.append(0x0A)
        written += rawLine.count + 1
        count += 1
        if buffer.count >= 1 << 20 { try flush() }
    }

    private func startShard() throws {
        try flush()
        try handle?.close()
        let url = folder.appendingPathComponent(String(format: "part-%05d.jsonl", shards))
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw StageError("cannot create \(url.path)")
        }
        handle = try FileHandle(forWritingTo: url)
        shards += 1
        written = 0
    }

    private func flush() throws {
        guard let handle, !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        try flush()
        try handle?.close()
        handle = nil
    }
}
