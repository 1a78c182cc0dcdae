import Foundation

/// One unit of a shardable stage's work (an input file, a range of documents), described by
/// the stage in a JSON payload it alone reads.
public struct ShardSpec: Codable, Sendable, Hashable {
    public var payload: JSONValue
    public init(_ payload: JSONValue) { self.payload = payload }
}

/// A stage whose work splits into independent units: an executor may run contiguous groups of
/// units apart (a Slurm job array, one task a group), each writing a piece, and `merge` joins
/// the pieces in order into the same outputs, byte for byte, as `run` writes. So the artifact
/// ids do not depend on how the work was split.
public protocol ShardableStage: Stage {
    /// The units of this run, in order; fewer than two means "do not split" (limits, network
    /// sources, a single file). Must be cheap: it lists work, it reads no data.
    static func shards(_ params: Params, _ context: StageContext) throws -> [ShardSpec]
    /// Does the work of `units` (contiguous, in order), writing a piece into the context's outputs.
    func runShards(_ params: Params, _ units: [ShardSpec], _ context: StageContext) async throws
    /// Joins the pieces into the context's outputs: `pieces[i][port]` is the i-th group's folder
    /// for output `port`, in unit order.
    func merge(_ params: Params, pieces: [[String: URL]], _ context: StageContext) async throws
}

extension ShardSpec {
    /// One unit per `part-*.jsonl` shard of the `documents` input, in order: the split of a
    /// stage whose work is per document.
    public static func documentShards(_ context: StageContext) throws -> [ShardSpec] {
        try documentShardNames(context).map { ShardSpec(.string($0)) }
    }

    /// The `part-*.jsonl` shards of the `documents` input, in order.
    public static func documentShardNames(_ context: StageContext) throws -> [String] {
        try context.input("documents").files.map(\.path).filter { $0.hasPrefix("part-") && $0.hasSuffix(".jsonl") }.sorted()
    }

    /// The shard names of units made by `documentShards`.
    public static func documentShardNames(of units: [ShardSpec], stage: String) throws -> [String] {
        try units.map { unit in
            guard case .string(let name) = unit.payload else { throw StageError("\(stage): a malformed shard \(unit.payload)") }
            return name
        }
    }
}
