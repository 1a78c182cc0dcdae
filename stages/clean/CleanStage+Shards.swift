import Foundation
import PipeKit

/// `clean` splits by input shard: every document is cleaned on its own, so a group of
/// `part-NNNNN.jsonl` files can be cleaned apart. The merge re-writes the pieces' kept
/// documents and rejects in shard order through writers with the same shard size, and adds up
/// their counts, so the outputs equal a single run's byte for byte.
extension CleanStage: ShardableStage {
    public static func shards(_ p: Params, _ context: StageContext) throws -> [ShardSpec] {
        try ShardSpec.documentShards(context)
    }

    public func runShards(_ p: Params, _ units: [ShardSpec], _ context: StageContext) async throws {
        let names = try ShardSpec.documentShardNames(of: units, stage: Self.name)
        try await clean(p, parts: names, context)
    }

    public func merge(_ p: Params, pieces: [[String: URL]], _ context: StageContext) async throws {
        var tally = Tally()
        for port in ["documents", "rejects"] {
            let writer = DocumentsWriter(folder: try context.output(port))
            for piece in pieces {
                guard let folder = piece[port] else { continue }
                for shard in try DocumentsReader(folder: folder).shards {
                    let data = try Data(contentsOf: shard)
                    for line in data.split(separator: 0x0A) {
                        try line.withUnsafeBytes { try writer.write(rawLine: $0.bindMemory(to: UInt8.self)) }
                    }
                }
            }
            try writer.close()
        }
        for piece in pieces {
            guard let stats = piece["stats"] else { throw StageError("clean: a piece without stats") }
            tally.add(try Tally.read(stats))
        }
        try tally.write(to: context)
        context.log("merged \(Int(tally.counts["documents.out", default: 0])) kept documents from \(pieces.count) pieces")
    }
}
