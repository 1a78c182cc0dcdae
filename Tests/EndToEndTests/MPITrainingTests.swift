import Foundation
import XCTest

/// Data-parallel training over MPI ranks: `mpirun` locally, `srun --mpi=pmix` under Slurm.
/// Needs Open MPI and the cluster that `scripts/test` starts (`PIPE_TEST_SLURM=1`).
final class MPITrainingTests: XCTestCase {
    var ws: Workspace!

    static func manifest(executor: String) -> String {
        let train = "model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 20, lr: 3.0e-3, warmup: 5, eval_every: 20, eval_tokens: 1024, log_every: 1"
        return """
        version: 1
        name: mpi-e2e
        executor: \(executor)
        stages:
        \(Workspace.docsTokenizeStages(vocab: 320, splits: "{train: 0.9, val: 0.1, test: 0.0}"))
          single:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {\(train)}
            resources: {cpus: 1}
            publish: {metrics: out/single/}
          parallel:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {\(train), ranks: 2}
            resources: {cpus: 1, tasks: 2}
            publish: {metrics: out/parallel/}

        """
    }

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["PIPE_TEST_SLURM"] == "1" else {
            throw XCTSkip("no Open MPI and Slurm: scripts/test installs them, starts a cluster and sets PIPE_TEST_SLURM=1")
        }
        ws = try Workspace()
        try ws.addDocsCorpus()
    }

    override func tearDown() { ws?.remove() }

    private func trainLosses(_ folder: String) throws -> [Double] {
        let points = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("\(folder)/curve.json"))) as! [[String: Any]]
        return points.map { $0["trainLoss"] as! Double }
    }

    func testTwoRanksFollowTheSingleProcessLossCurve() throws {
        try ws.write("p.yaml", Self.manifest(executor: "local"))
        XCTAssertEqual(try ws.runStages("p.yaml"), ["text": "ran", "tokenize": "ran", "single": "ran", "parallel": "ran"])
        let single = try trainLosses("out/single"), parallel = try trainLosses("out/parallel")
        XCTAssertEqual(single.count, 20)
        XCTAssertEqual(parallel.count, 20)
        for (step, (a, b)) in zip(single, parallel).enumerated() {
            XCTAssertEqual(b, a, accuracy: abs(a) * 1e-5, "step \(step + 1)")
        }
        XCTAssertLessThan(single.last!, single.first!, "it learns")
        let show = try ws.run(["show", "p.yaml", "parallel", "--log"])
        XCTAssertTrue(show.stdout.contains("data parallel: rank 0 of 2, 4 rows of each batch"), show.stdout)
    }

    func testFineTuningOverTwoRanksAveragesOverTheLearnedTokensOfBoth() throws {
        // Answers of very different lengths: each rank's rows learn a different number of
        // tokens, so the loss is right only when normalized by the count summed over ranks.
        var lines = ""
        for n in 0..<16 {
            lines += "{\"prompt\": \"Q\(n):\", \"completion\": \"\(String(repeating: " stage", count: n % 5 == 0 ? 6 : 1 + n % 2))\"}\n"
        }
        try ws.write("qa.jsonl", lines)
        let settings = "steps: 8, batch: 4, lr: 3.0e-3, warmup: 0, log_every: 1, eval_every: 8"
        try ws.write("p.yaml", Self.manifest(executor: "local") + """
          qa:
            uses: prepare-examples
            with: {train: qa.jsonl, split: {validation: 0.0, test: 0.0}}
          tuned:
            uses: finetune
            inputs: {examples: qa.examples, init_from: single.model, tokenizer: tokenize.tokenizer}
            with: {\(settings)}
            publish: {metrics: out/tuned/}
          tuned_parallel:
            uses: finetune
            inputs: {examples: qa.examples, init_from: single.model, tokenizer: tokenize.tokenizer}
            with: {\(settings), ranks: 2}
            resources: {cpus: 1, tasks: 2}
            publish: {metrics: out/tuned-parallel/}

        """)
        let statuses = try ws.runStages("p.yaml", ["tuned", "tuned_parallel"])
        XCTAssertEqual(statuses["tuned_parallel"], "ran")
        let single = try trainLosses("out/tuned"), parallel = try trainLosses("out/tuned-parallel")
        XCTAssertEqual(single.count, 8)
        for (step, (a, b)) in zip(single, parallel).enumerated() {
            XCTAssertEqual(b, a, accuracy: abs(a) * 1e-5, "step \(step + 1)")
        }
    }

    func testSrunUnderSlurmGivesTheLocalArtifacts() throws {
        try ws.write("p.yaml", Self.manifest(executor: "local"))
        _ = try ws.runStages("p.yaml", ["--cache", "cache-local"])
        let local = try SlurmTests.outputIds(ws.read("p.lock"))
        try ws.write("p.yaml", Self.manifest(executor: "slurm"))
        XCTAssertEqual(Set(try ws.runStages("p.yaml", ["--cache", "cache-slurm"]).values), ["ran"])
        // Training's metrics and state hold wall-clock times, so only its model can match.
        func comparable(_ ids: [String: [String: String]]) -> [String: [String: String]] {
            ids.mapValues { $0["model"].map { ["model": $0] } ?? $0 }
        }
        let slurm = try SlurmTests.outputIds(ws.read("p.lock"))
        XCTAssertEqual(comparable(slurm), comparable(local))
        XCTAssertEqual(slurm["parallel"]?["model"], local["parallel"]?["model"])
    }

    func testRanksWithoutTasksIsAClearError() throws {
        try ws.write("p.yaml", Self.manifest(executor: "local").replacingOccurrences(of: "resources: {cpus: 1, tasks: 2}", with: "resources: {cpus: 1}"))
        let output = try ws.run(["run", "p.yaml", "parallel"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("with.ranks is 2 but the stage runs as 1 process(es): give it resources: {tasks: 2}"), output.stderr)
    }
}
