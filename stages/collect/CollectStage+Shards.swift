import Foundation
import PipeKit

/// `collect` splits by file: a files source's files are independent, and a document's id and
/// text depend on its file alone. Merging re-writes the pieces' JSON lines in file order through
/// a writer with the same `shard_bytes`, so the output equals a single run's byte for byte.
/// Runs with document or byte limits, or URL sources, do not split.
extension CollectStage: ShardableStage {
    public static func shards(_ p: Params, _ context: StageContext) throws -> [ShardSpec] {
        guard p.max_documents == nil, p.max_bytes == nil, p.sources.allSatisfy({ $0.kind == .files }) else { return [] }
        var units: [ShardSpec] = []
        for (index, source) in p.sources.enumerated() {
            let listing = try Collector.files(of: source, workspace: context.workspace)
            listing.warn(source: source.name.isEmpty ? source.path : source.name, context)
            for (_, relative) in listing.files {
                units.append(ShardSpec(.object(["source": .int(Int64(index)), "path": .string(relative)])))
            }
        }
        return units
    }

    public func runShards(_ p: Params, _ units: [ShardSpec], _ context: StageContext) async throws {
        var collector = Collector(params: p, writer: DocumentsWriter(folder: try context.output("documents"), shardBytes: p.shard_bytes),
                                  context: context)
        var bySource: [(Int, Set<String>)] = []
        for unit in units {
            guard case .int(let source)? = unit.payload["source"], case .string(let path)? = unit.payload["path"],
                  p.sources.indices.contains(Int(source)) else { throw StageError("collect: a malformed shard \(unit.payload)") }
            if bySource.last?.0 == Int(source) { bySource[bySource.count - 1].1.insert(path) } else { bySource.append((Int(source), [path])) }
        }
        for (source, paths) in bySource { try collector.collect(p.sources[source], only: paths) }
        try collector.finishPiece()
    }

    public func merge(_ p: Params, pieces: [[String: URL]], _ context: StageContext) async throws {
        let writer = DocumentsWriter(folder: try context.output("documents"), shardBytes: p.shard_bytes)
        for piece in pieces {
            guard let folder = piece["documents"] else { continue }
            for shard in try DocumentsReader(folder: folder).shards {
                let data = try Data(contentsOf: shard)
                for line in data.split(separator: 0x0A) {
                    try line.withUnsafeBytes { try writer.write(rawLine: $0.bindMemory(to: UInt8.self)) }
                }
            }
        }
        try writer.close()
        guard writer.count > 0 else { throw StageError("no documents collected") }
        context.metric("collect.documents", Double(writer.count))
        context.log("merged \(writer.count) documents from \(pieces.count) pieces into \(writer.shards) shard(s)")
    }
}
