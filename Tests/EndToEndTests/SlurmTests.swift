import Foundation
import XCTest

/// The slurm executor against a real cluster: `scripts/test` starts one (scripts/slurm-cluster)
/// and sets `PIPE_TEST_SLURM=1` and `SLURM_CONF`. Without them these tests are skipped.
final class SlurmTests: XCTestCase {
    var ws: Workspace!

    static let manifest = """
    version: 1
    name: slurm-e2e
    stages:
      source:
        uses: collect
        with:
          sources:
            - {path: corpus, include: ["*.txt"]}
      lower:
        uses: ./stages/examples/lowercase
        inputs: {documents: source.documents}
        resources: {cpus: 1, mem: 500M, time: "10"}
      tokenize:
        uses: bpe-tokenize
        inputs: {documents: lower.documents}
        with: {vocab_size: 300}
      stats:
        uses: ./stages/examples/stats
        inputs: {documents: lower.documents}

    """

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["PIPE_TEST_SLURM"] == "1" else {
            throw XCTSkip("no Slurm cluster: scripts/test starts one and sets PIPE_TEST_SLURM=1")
        }
        ws = try Workspace()
        for n in 1...20 { try ws.write("corpus/doc\(n).txt", "Document number \(n) of a small corpus.\nIt has Some TEXT in it, \(n * 7) words or so.\n") }
        try ws.write("p.yaml", Self.manifest)
    }

    override func tearDown() { ws?.remove() }

    func testSlurmRunGivesTheLocalArtifactIdsAndASecondRunSubmitsNothing() throws {
        let local = try ws.runStages("p.yaml", ["--cache", "cache-local", "--threads", "2"])
        XCTAssertEqual(Set(local.values), ["ran"])
        let localLock = try ws.read("p.lock")
        try FileManager.default.removeItem(at: ws.root.appendingPathComponent("p.lock"))

        let before = try Self.lastJobId()
        let slurm = try ws.runStages("p.yaml", ["--cache", "cache-slurm", "--threads", "2", "--executor", "slurm"])
        XCTAssertEqual(slurm, ["source": "ran", "lower": "ran", "tokenize": "ran", "stats": "ran"])
        XCTAssertEqual(try Self.lastJobId(), before + 4, "one job per stale stage")
        XCTAssertEqual(try Self.outputIds(ws.read("p.lock")), try Self.outputIds(localLock))

        let show = try ws.run(["show", "p.yaml", "lower", "--cache", "cache-slurm", "--log"])
        XCTAssertTrue(show.stdout.contains("kept 20 documents"), "the job's log comes back: \(show.stdout)")

        let again = try ws.runStages("p.yaml", ["--cache", "cache-slurm", "--executor", "slurm"])
        XCTAssertEqual(Set(again.values), ["cached"])
        XCTAssertEqual(try Self.lastJobId(), before + 4, "a second run submits nothing")
    }

    func testAFailedJobFailsItsStageAndSkipsItsDependents() throws {
        try writePlugin("fail", script: "echo about to fail\nexit 3\n")
        try ws.write("f.yaml", """
        version: 1
        name: fails
        executor: slurm
        stages:
          source:
            uses: collect
            with: {sources: [{path: corpus, include: ["*.txt"]}]}
          broken:
            uses: ./stages/fail
            inputs: {documents: source.documents}
          after:
            uses: ./stages/examples/stats
            inputs: {documents: broken.documents}

        """)
        let output = try ws.run(["run", "f.yaml", "--json"])
        XCTAssertEqual(output.status, 1, output.stderr)
        let stages = try XCTUnwrap((output.json as? [String: Any])?["stages"] as? [[String: Any]])
        let status = Dictionary(uniqueKeysWithValues: stages.map { ($0["stage"] as! String, $0["status"] as! String) })
        XCTAssertEqual(status, ["source": "ran", "broken": "failed", "after": "skipped"])
        let broken = try XCTUnwrap(stages.first { $0["stage"] as? String == "broken" })
        XCTAssertTrue((broken["error"] as? String ?? "").contains("exited with status 3"), "\(broken)")
        XCTAssertTrue((broken["log_tail"] as? [String] ?? []).contains("about to fail"), "\(broken)")
        XCTAssertEqual(try Self.queue(), [], "nothing left pending")
    }

    func testInterruptCancelsTheSubmittedJobs() throws {
        try writePlugin("slow1", script: "sleep 120\n")  // two stages, two keys
        try writePlugin("slow2", script: "sleep 121\n")
        try ws.write("s.yaml", """
        version: 1
        name: slow
        stages:
          source:
            uses: collect
            with: {sources: [{path: corpus, include: ["*.txt"]}]}
          one:
            uses: ./stages/slow1
            inputs: {documents: source.documents}
          two:
            uses: ./stages/slow2
            inputs: {documents: source.documents}
            resources: {cpus: 1}

        """)
        let status = try interrupt(["run", "s.yaml", "--executor", "slurm", "--threads", "1"]) {
            $0.filter { $0.hasSuffix("R") }.count == 2
        }
        XCTAssertEqual(status, 130)
        XCTAssertEqual(try Self.queue(), [], "Ctrl-C cancels every submitted job")
    }

    static let arrayManifest = """
    version: 1
    name: slurm-array
    stages:
      source:
        uses: collect
        with:
          shard_bytes: 1000
          sources:
            - {path: corpus, include: ["*.txt"]}
        resources: {array: ARRAY, cpus: CPUS}
      stats:
        uses: ./stages/examples/stats
        inputs: {documents: source.documents}

    """

    func testAShardableStageFansOutAsAJobArrayAndTheMergeGivesTheLocalIds() throws {
        let text = Self.arrayManifest.replacingOccurrences(of: "ARRAY", with: "4").replacingOccurrences(of: "CPUS", with: "1")
        try ws.write("a.yaml", text)
        _ = try ws.runStages("a.yaml", ["--cache", "cache-local"])
        let local = try Self.outputIds(ws.read("a.lock"))
        XCTAssertGreaterThan(local["source"]?["documents"]?.count ?? 0, 0)

        let before = try Self.lastJobId()
        XCTAssertEqual(try ws.runStages("a.yaml", ["--cache", "cache-slurm", "--executor", "slurm"]), ["source": "ran", "stats": "ran"])
        XCTAssertEqual(try Self.outputIds(ws.read("a.lock")), local)
        XCTAssertEqual(try Self.lastJobId(), before + 4 + 1 + 1, "4 array tasks, the merge, and stats")
        let show = try ws.run(["show", "a.yaml", "source", "--cache", "cache-slurm", "--log"])
        XCTAssertTrue(show.stdout.contains("merged 20 documents from 4 pieces"), show.stdout)
    }

    func testCleanFansOutOverItsInputShardsAndTheMergeGivesTheLocalIds() throws {
        // Documents 1-9 are shorter than document 10: they go to rejects, so every output has lines.
        let tenth = "Document number 10 of a small corpus.\nIt has Some TEXT in it, 70 words or so."
        let log = try runArrayAgainstLocal(stage: "clean", uses: "clean", shardBytes: 200,
                                           with: "{min_chars: \(tenth.unicodeScalars.count)}", ports: ["documents", "rejects", "stats"])
        XCTAssertTrue(log.contains("merged 11 kept documents from 3 pieces"), log)
    }

    func testDedupSignaturesFanOutAndTheMergeClustersWithTheLocalIds() throws {
        for n in 1...5 { try ws.write("corpus/copy\(n).txt", try ws.read("corpus/doc\(n).txt")) }
        let log = try runArrayAgainstLocal(stage: "dedup", uses: "minhash-dedup", shardBytes: 300, with: "{}",
                                           ports: ["clusters", "documents", "stats"])
        XCTAssertTrue(log.contains("merged the signatures of 25 documents from 3 pieces"), log)
        // Normalization maps numbers to 0, so all 25 texts are one: a cluster across the 3 pieces.
        XCTAssertTrue(log.contains("kept 1 of 25 documents: 24 exact"), log)
    }

    func testTokenizeEncodesInPiecesWithAGivenTokenizerWithTheLocalIds() throws {
        // The first stage trains (all the text, one job); the second reuses its tokenizer and shards.
        let trainer = """
          vocab:
            uses: bpe-tokenize
            inputs: {documents: source.documents}
            with: {vocab_size: 300}
        """
        let log = try runArrayAgainstLocal(stage: "tokens", uses: "bpe-tokenize", shardBytes: 300,
                                           with: "{splits: {train: 0.6, val: 0.2, test: 0.2}}", ports: ["tokenizer", "tokens"],
                                           before: trainer, extraInputs: ", tokenizer: vocab.tokenizer")
        XCTAssertTrue(log.contains("merged the ids of 20 documents from 3 pieces"), log)
    }

    /// Runs collect (small shards), the stages in `before`, then `stage` as a 3-task job array
    /// under Slurm; checks that every output id equals a local run's and that each other stage
    /// took one job and `stage` 3 tasks and a merge; returns the stage's log.
    private func runArrayAgainstLocal(stage: String, uses: String, shardBytes: Int, with: String, ports: [String],
                                      before: String = "", extraInputs: String = "") throws -> String {
        try ws.write("s.yaml", """
        version: 1
        name: slurm-shards
        stages:
          source:
            uses: collect
            with:
              shard_bytes: \(shardBytes)
              sources:
                - {path: corpus, include: ["*.txt"]}
        \(before)
          \(stage):
            uses: \(uses)
            inputs: {documents: source.documents\(extraInputs)}
            with: \(with)
            resources: {array: 3, cpus: 1}

        """)
        _ = try ws.runStages("s.yaml", ["--cache", "cache-local"])
        let local = try Self.outputIds(ws.read("s.lock"))
        XCTAssertEqual(local[stage]?.keys.sorted(), ports)
        let firstJob = try Self.lastJobId()
        let statuses = try ws.runStages("s.yaml", ["--cache", "cache-slurm", "--executor", "slurm"])
        XCTAssertEqual(Set(statuses.values), ["ran"])
        XCTAssertEqual(try Self.outputIds(ws.read("s.lock")), local, "every output equals the local run's")
        XCTAssertEqual(try Self.lastJobId(), firstJob + statuses.count - 1 + 3 + 1, "one job a stage, 3 array tasks, and the merge")
        return try ws.run(["show", "s.yaml", stage, "--cache", "cache-slurm", "--log"]).stdout
    }

    func testInterruptDuringAJobArrayCancelsEveryTask() throws {
        // Each task asks for the node's every core: the tasks run one after another.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let text = Self.arrayManifest.replacingOccurrences(of: "ARRAY", with: "20").replacingOccurrences(of: "CPUS", with: "\(cores)")
        try ws.write("a.yaml", text)
        let status = try interrupt(["run", "a.yaml", "--executor", "slurm"]) { !$0.isEmpty }
        XCTAssertEqual(status, 130)
        XCTAssertEqual(try Self.queue(), [], "Ctrl-C cancels every task of the array")
    }

    /// A shell plugin with a documents input and output that runs `script`.
    private func writePlugin(_ name: String, script: String) throws {
        try ws.writeShellPlugin(name, script: script, extra: "inputs:\n  documents: {kind: documents}\n")
    }

    /// Starts `pipe arguments`, sends SIGINT once the queue satisfies `ready`, and returns the
    /// exit status.
    private func interrupt(_ arguments: [String], when ready: ([String]) -> Bool) throws -> Int32 {
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = arguments
        process.currentDirectoryURL = ws.root
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while try !ready(Self.queue()) {
            guard Date() < deadline else {
                process.terminate()
                XCTFail("the queue never got ready: \(try Self.queue())")
                return -1
            }
            usleep(50_000)
        }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The jobs Slurm still queues or runs, as "name state".
    static func queue() throws -> [String] {
        let (status, output) = try Workspace.execute("/usr/bin/env", ["squeue", "-h", "-o", "%j %t"], in: URL(fileURLWithPath: "/"),
                                                     environment: ProcessInfo.processInfo.environment)
        XCTAssertEqual(status, 0, output)
        return output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("pipe-") }
    }

    /// The highest job id the controller has handed out.
    func testASweepsTrialsRunAsSlurmJobsWithTheirParams() throws {
        try ws.writeBranin()
        try ws.write("s.yaml", SweepTests.braninManifest(sampler: "{kind: random, seed: 1}", trials: 2, parallel: 2))
        let local = try ws.run(["sweep", "s.yaml", "--cache", "cache-local", "--json"])
        XCTAssertEqual(local.status, 0, local.stderr)
        let before = try Self.lastJobId()
        let slurm = try ws.run(["sweep", "s.yaml", "--cache", "cache-slurm", "--executor", "slurm", "--json"])
        XCTAssertEqual(slurm.status, 0, slurm.stderr)
        XCTAssertEqual(try Self.lastJobId(), before + 2, "one job per trial's stage")
        /// Each trial's number and value.
        func values(_ output: Workspace.Output) -> [Int: Double] {
            let trials = (output.json as? [String: Any])?["trials"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: trials.map { ($0["number"] as! Int, $0["value"] as? Double ?? .nan) })
        }
        XCTAssertEqual(values(slurm), values(local), "the jobs ran the stage with each trial's params")
        XCTAssertEqual(values(slurm).count, 2)
    }

    static func lastJobId() throws -> Int {
        let (_, output) = try Workspace.execute("/usr/bin/env", ["scontrol", "show", "jobs", "-o"], in: URL(fileURLWithPath: "/"),
                                                environment: ProcessInfo.processInfo.environment)
        return output.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("JobId=") }.flatMap { Int($0.dropFirst(6)) }
        }.max() ?? 0
    }

    /// Each stage's output ids in a lock file.
    static func outputIds(_ lock: String) throws -> [String: [String: String]] {
        let json = try JSONSerialization.jsonObject(with: Data(lock.utf8)) as! [String: Any]
        let stages = json["stages"] as! [String: [String: Any]]
        return stages.mapValues { $0["outputs"] as! [String: String] }
    }
}

/// `pipe exec-stage` on a node that does not see the cache (no cluster needed).
final class ExecStageTests: XCTestCase {
    func testAJobFileTheNodeCannotSeeIsBlamedOnTheCacheNotBeingShared() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let output = try ws.run(["exec-stage", ws.root.appendingPathComponent("cache/tmp/job-x/job.json").path])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stdout.contains("cannot read the job file"), output.stdout)
        XCTAssertTrue(output.stdout.contains("The cache must be on a filesystem that every node sees"), output.stdout)
    }
}
