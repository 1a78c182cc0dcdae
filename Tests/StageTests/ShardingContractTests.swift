import BPETokenizeStage
import CleanStage
import CollectStage
import Foundation
import MinHashDedupStage
@testable import PipeEngine
import PipeKit
import XCTest

/// Runs each shardable built-in stage as a Slurm job array would, here in this process: groups
/// of units, each writing a piece, then the merge. Other stages run whole.
private final class ShardedLocally: StageExecutor, @unchecked Sendable {
    let local: LocalExecutor
    let groups: Int
    private let mutex = NSLock()
    /// Stage -> how many pieces it was run as.
    private(set) var pieceCounts: [String: Int] = [:]

    init(local: LocalExecutor, groups: Int) { self.local = local; self.groups = groups }

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        let units = try local.shards(of: job, events: events)
        mutex.withLock { pieceCounts[job.stage.name] = min(groups, max(1, units.count)) }
        guard units.count > 1 else { return try await local.run(job, events: events, cancel: cancel, keepOutputs: true) }
        var pieces: [[String: ArtifactTree]] = []
        for group in SlurmExecutor.split(units, into: groups) {
            pieces.append(try await local.run(job, events: events, cancel: cancel, keepOutputs: true, action: .units(group)).outputs)
        }
        return try await local.run(job, events: events, cancel: cancel, keepOutputs: true, action: .merge(pieces))
    }
}

/// The sharding contract, in-process for every shardable stage: pieces merged give the same
/// artifacts, byte for byte, as a whole run.
final class ShardingContractTests: XCTestCase {
    func testPiecesMergedEqualAWholeRunForEveryShardableStage() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-sharding-\(UUID().uuidString)")
        defer { FileSystem.removeTree(root) }
        for n in 0..<40 {
            let words = (0..<(30 + n * 7)).map { "word\(($0 * 31 + n) % 97)" }.joined(separator: " ")
            let text = n % 5 == 0 ? "A near copy. " + words : "Document \(n) says: " + words + "."
            let file = root.appendingPathComponent("corpus/\(n % 4)/doc\(n).txt")
            try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
        }
        // Each shardable stage reads collect's many small shards (a unit each). bpe-tokenize splits
        // its encoding when it is given a tokenizer: train one first.
        let stages = """
        version: 1
        name: shards
        stages:
          text:
            uses: collect
            with: {sources: [{path: corpus}], shard_bytes: 2000}
          clean:
            uses: clean
            inputs: {documents: text.documents}
          dedup:
            uses: minhash-dedup
            inputs: {documents: text.documents}
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: text.documents}

        """
        let registry = StageRegistry([StageDescriptor(builtin: CollectStage.self), StageDescriptor(builtin: CleanStage.self),
                                      StageDescriptor(builtin: MinHashDedupStage.self), StageDescriptor(builtin: BPETokenizeStage.self)])
        func load(_ text: String) throws -> Manifest {
            try Data(text.utf8).write(to: root.appendingPathComponent("m.yaml"))
            return try ManifestLoader(registry: registry, workspace: root).load(root.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
        }
        let training = try load(stages + "    with: {vocab_size: 300}\n    publish: {tokenizer: tok/}\n")
        let trained = try await PipelineRunner(manifest: training, cache: Cache(root: root.appendingPathComponent("cache-tokenizer")),
                                               observer: SilentObserver(), options: RunOptions()).run()
        XCTAssertFalse(trained.failed)
        let loaded = try load(stages + "    with: {tokenizer: tok/tokenizer.json}\n")

        var pieceCounts: [String: Int] = [:]
        func outputs(cache folder: String, sharded: Bool) async throws -> [String: [String: String]] {
            let cache = Cache(root: root.appendingPathComponent(folder))
            let local = LocalExecutor(cache: cache, workspace: root, manifest: loaded)
            let splitter = ShardedLocally(local: local, groups: 3)
            let executor: any StageExecutor = sharded ? splitter : local
            defer { if sharded { pieceCounts = splitter.pieceCounts } }
            let summary = try await PipelineRunner(manifest: loaded, cache: cache, observer: SilentObserver(), options: RunOptions(),
                                                   executor: executor).run()
            XCTAssertFalse(summary.failed, "\(summary.reports.map { "\($0.stage): \($0.outcome)" })")
            return Dictionary(uniqueKeysWithValues: summary.reports.map { ($0.stage, ($0.outputs ?? [:]).mapValues(\.id)) })
        }
        let whole = try await outputs(cache: "cache-whole", sharded: false)
        let pieces = try await outputs(cache: "cache-pieces", sharded: true)
        XCTAssertEqual(Set(whole.keys), ["text", "clean", "dedup", "tokenize"])
        XCTAssertEqual(pieceCounts, ["text": 3, "clean": 3, "dedup": 3, "tokenize": 3], "every stage really ran in pieces")
        for stage in whole.keys.sorted() {
            XCTAssertEqual(pieces[stage], whole[stage], "\(stage): merged pieces differ from a whole run")
        }
    }
}
