import BPETokenizer
import Foundation
import PipeKit

/// `bpe-tokenize` shards its encoding when the tokenizer is given (training one needs all the
/// text, so a run that trains does not split). A unit is one input shard; a piece is its
/// documents' ids (`encoded.bin` in the piece's `tokens` folder). The merge counts the
/// documents of all pieces, then hands every document, in order, to the same `TokenSink` a
/// single run uses, so the seeded split, the shards and meta.json are a single run's.
extension BPETokenizeStage: ShardableStage {
    public static func shards(_ p: Params, _ context: StageContext) throws -> [ShardSpec] {
        try givenTokenizer(p, context) == nil ? [] : ShardSpec.documentShards(context)
    }

    public func runShards(_ p: Params, _ units: [ShardSpec], _ context: StageContext) async throws {
        guard let model = try Self.givenModel(p, context) else { throw StageError("bpe-tokenize shards only with a given tokenizer") }
        guard let eot = model.specials.first(where: { $0.text == p.end_of_text })?.id else {
            throw StageError("the tokenizer has no special token '\(p.end_of_text)'")
        }
        var piece = EncodedDocuments()
        _ = try Self.encode(try ShardSpec.documentShardNames(of: units, stage: Self.name), model: model, endOfText: eot, context,
                            progressFrom: 0) { piece.append($0) }
        try piece.write(to: try context.output("tokens").appendingPathComponent("encoded.bin"))
    }

    public func merge(_ p: Params, pieces: [[String: URL]], _ context: StageContext) async throws {
        guard let model = try Self.givenModel(p, context) else { throw StageError("bpe-tokenize shards only with a given tokenizer") }
        let files = try pieces.map { piece -> URL in
            guard let folder = piece["tokens"] else { throw StageError("bpe-tokenize: a piece without tokens") }
            return folder.appendingPathComponent("encoded.bin")
        }
        let documents = try files.reduce(0) { $0 + (try EncodedDocuments.count(in: $1)) }
        guard documents > 0 else { throw StageError("no documents to tokenize") }
        let sink = try TokenSink(p, model: model, documents: documents, context)
        let started = Date()
        for file in files { try EncodedDocuments.read(file).forEach { try sink.add($0) } }
        try sink.finish(encodedBytes: 0, seconds: Date().timeIntervalSince(started), context)
        context.log("merged the ids of \(documents) documents from \(pieces.count) pieces")
    }
}

/// Documents' token ids in order, as one file: little-endian document count, the end offset of
/// each document, then the ids.
struct EncodedDocuments {
    private var ids: [Int32] = []
    private var ends: [UInt64] = []

    mutating func append(_ doc: ArraySlice<Int32>) {
        ids.append(contentsOf: doc)
        ends.append(UInt64(ids.count))
    }

    func forEach(_ body: (ArraySlice<Int32>) throws -> Void) rethrows {
        var start = 0
        for end in ends {
            try body(ids[start..<Int(end)])
            start = Int(end)
        }
    }

    func write(to url: URL) throws {
        var data = Data()
        withUnsafeBytes(of: UInt64(ends.count).littleEndian) { data.append(contentsOf: $0) }
        ends.withUnsafeBytes { data.append(contentsOf: $0) }
        ids.withUnsafeBytes { data.append(contentsOf: $0) }
        try data.write(to: url, options: .atomic)
    }

    static func count(in url: URL) throws -> Int {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        guard let header = try handle.read(upToCount: 8), header.count == 8 else { throw StageError("\(url.lastPathComponent): truncated") }
        return Int(header.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
    }

    static func read(_ url: URL) throws -> EncodedDocuments {
        let data = try Data(contentsOf: url)
        guard data.count >= 8 else { throw StageError("\(url.lastPathComponent): truncated") }
        return try data.withUnsafeBytes { raw in
            let count = Int(raw.loadUnaligned(as: UInt64.self))
            guard data.count >= 8 + count * 8, (data.count - 8 - count * 8) % 4 == 0 else {
                throw StageError("\(url.lastPathComponent): truncated")
            }
            var documents = EncodedDocuments()
            documents.ends = (0..<count).map { raw.loadUnaligned(fromByteOffset: 8 + $0 * 8, as: UInt64.self) }
            let idCount = (data.count - 8 - count * 8) / 4
            documents.ids = (0..<idCount).map { raw.loadUnaligned(fromByteOffset: 8 + count * 8 + $0 * 4, as: Int32.self) }
            guard documents.ends.last.map({ Int($0) == idCount }) ?? (idCount == 0) else {
                throw StageError("\(url.lastPathComponent): offsets do not match the ids")
            }
            return documents
        }
    }
}
