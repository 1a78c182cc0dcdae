import Foundation

/// One split (`train`, `val`, `test`) of a `tokens` artifact, memory-mapped shard by shard so
/// a corpus larger than memory still trains; windows may cross shard boundaries.
public struct TokenSplit {
    public let name: String
    private let shards: [Data]
    private let starts: [Int]
    private let wide: Bool
    /// Tokens in the split.
    public let count: Int

    /// The split's shards listed in `meta.json` of a materialized tokens folder.
    public init(_ name: String, folder: URL, meta: TokensMeta) throws {
        self.name = name
        wide = meta.dtype == "uint32"
        var shards: [Data] = [], starts: [Int] = [], total = 0
        for file in meta.splits[name]?.files ?? [] {
            let data = try Data(contentsOf: folder.appendingPathComponent(file), options: .alwaysMapped)
            guard data.count % (wide ? 4 : 2) == 0 else { throw StageError("tokens/\(file): \(data.count) bytes is not a whole number of \(meta.dtype) ids") }
            shards.append(data)
            starts.append(total)
            total += data.count / (wide ? 4 : 2)
        }
        self.shards = shards
        self.starts = starts
        count = total
    }

    /// Copies tokens `start ..< start + n` into `out`.
    public func copy(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        var position = start, written = 0
        var shard = starts.lastIndex { $0 <= position } ?? 0
        while written < n {
            let offset = position - starts[shard]
            let available = (shards[shard].count / (wide ? 4 : 2)) - offset
            let take = min(available, n - written)
            shards[shard].withUnsafeBytes { raw in
                for i in 0..<take {
                    out[written + i] = wide
                        ? Int32(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * (offset + i), as: UInt32.self)))
                        : Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * (offset + i), as: UInt16.self)))
                }
            }
            written += take
            position += take
            shard += 1
        }
    }
}

/// A tokens artifact's `meta.json`: vocabulary, id width and the shard files of each split.
public struct TokensMeta: Decodable, Sendable {
    /// One split's size and files.
    public struct Split: Decodable, Sendable {
        public var tokens: Int
        public var bytes: Int?
        public var files: [String]
    }
    public var vocab_size: Int
    public var dtype: String
    public var end_of_text: Int?
    public var bytes_per_token: Double?
    public var splits: [String: Split]

    /// Reads `meta.json` from a materialized tokens folder.
    public static func read(from folder: URL) throws -> TokensMeta {
        do {
            return try JSONDecoder().decode(TokensMeta.self, from: Data(contentsOf: folder.appendingPathComponent("meta.json")))
        } catch {
            throw StageError("tokens/meta.json: \(error)")
        }
    }
}

/// A tokens artifact written out to local files (so its shards can be memory-mapped), with its
/// `meta.json`.
public struct TokenShards: Sendable {
    public let folder: URL
    public let meta: TokensMeta

    /// Materializes `input` under `scratch/tokens` and reads its meta.json.
    public init(_ input: any ArtifactReading, scratch: URL) throws {
        folder = try input.materialize(into: scratch.appendingPathComponent("tokens"))
        meta = try TokensMeta.read(from: folder)
    }

    /// One split's shards.
    public func split(_ name: String) throws -> TokenSplit { try TokenSplit(name, folder: folder, meta: meta) }
}
