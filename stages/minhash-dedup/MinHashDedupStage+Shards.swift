import Foundation
import PipeKit

/// `minhash-dedup` shards its signature pass: a unit is one input shard, and a piece is the
/// signatures of its documents (`signatures.bin` in the piece's `clusters` folder). The merge
/// joins the pieces' signatures in order and runs the clustering and the second pass over all
/// the documents, exactly as `run` does after its own signature pass, so the outputs equal a
/// single run's.
extension MinHashDedupStage: ShardableStage {
    public static func shards(_ p: Params, _ context: StageContext) throws -> [ShardSpec] {
        try ShardSpec.documentShards(context)
    }

    public func runShards(_ p: Params, _ units: [ShardSpec], _ context: StageContext) async throws {
        let names = try ShardSpec.documentShardNames(of: units, stage: Self.name)
        try signatures(p, shards: names, context).write(to: try context.output("clusters").appendingPathComponent("signatures.bin"))
    }

    public func merge(_ p: Params, pieces: [[String: URL]], _ context: StageContext) async throws {
        let permutations = Self.hasher(p).bands * Self.hasher(p).rows
        var table = SignatureTable(permutations: permutations)
        for piece in pieces {
            guard let folder = piece["clusters"] else { throw StageError("minhash-dedup: a piece without signatures") }
            table.append(try SignatureTable.read(folder.appendingPathComponent("signatures.bin"), permutations: permutations))
        }
        try deduplicate(p, table, shards: try ShardSpec.documentShardNames(context), context)
        context.log("merged the signatures of \(table.exact.count) documents from \(pieces.count) pieces")
    }
}
