import BPETokenizer
import Foundation

/// Writes one split's token ids into numbered shards `train-00000.bin`…, little-endian
/// uint16 (uint32 when the vocabulary needs it), starting a new shard every `shardTokens`.
final class TokenShardWriter {
    let split: String
    private let folder: URL
    private let wide: Bool
    private let shardTokens: Int
    private var handle: FileHandle?
    private var inShard = 0
    private var buffer: [UInt8] = []
    private(set) var files: [String] = []
    private(set) var tokens = 0
    private(set) var documents = 0
    private(set) var bytes = 0
    /// Text bytes each token stands for (0 for special tokens).
    private let tokenBytes: [Int]

    init(split: String, folder: URL, wide: Bool, shardTokens: Int, tokenBytes: [Int]) {
        self.split = split
        self.tokenBytes = tokenBytes
        self.folder = folder
        self.wide = wide
        self.shardTokens = shardTokens
    }

    /// Appends ids; `document` counts them as one document.
    func write(_ ids: ArraySlice<Int32>, document: Bool) throws {
        if document { documents += 1 }
        var rest = ids
        while !rest.isEmpty {
            if handle == nil || inShard == shardTokens { try startShard() }
            let take = min(rest.count, shardTokens - inShard)
            let chunk = rest.prefix(take)
            for id in chunk { bytes += tokenBytes[Int(id)] }
            if wide {
                chunk.map { UInt32(bitPattern: $0).littleEndian }.withUnsafeBytes { buffer.append(contentsOf: $0) }
            } else {
                chunk.map { UInt16(truncatingIfNeeded: $0).littleEndian }.withUnsafeBytes { buffer.append(contentsOf: $0) }
            }
            inShard += take
            tokens += take
            rest = rest.dropFirst(take)
            if buffer.count >= 1 << 20 { try flush() }
        }
    }

    private func startShard() throws {
        try flush()
        try handle?.close()
        let name = String(format: "%@-%05d.bin", split, files.count)
        let url = folder.appendingPathComponent(name)
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw TokenizerError("cannot create \(url.path)") }
        handle = try FileHandle(forWritingTo: url)
        files.append(name)
        inShard = 0
    }

    private func flush() throws {
        guard let handle, !buffer.isEmpty else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }

    func close() throws {
        try flush()
        try handle?.close()
        handle = nil
    }
}
