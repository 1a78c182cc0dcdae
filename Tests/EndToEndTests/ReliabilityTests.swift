import Foundation
import PipeKit
import XCTest

/// Crash safety, concurrent runs and cache integrity.
final class ReliabilityTests: XCTestCase {
    var ws: Workspace!

    /// A deterministic plugin that writes several megabytes per shard, and a pipeline around it.
    static let bulkPlugin = """
    import json, os, random
    r = json.load(open(os.environ["PIPE_REQUEST"]))
    p = r["params"]
    out = r["outputs"]["documents"]
    rng = random.Random(p["seed"])
    for shard in range(p["shards"]):
        with open(os.path.join(out, "part-%05d.jsonl" % shard), "w") as f:
            for line in range(p["lines"]):
                text = rng.randbytes(48).hex()
                f.write(json.dumps({"id": "%d-%d" % (shard, line), "text": text}) + "\\n")
        print("::progress %.3f shard %d" % ((shard + 1) / p["shards"], shard + 1), flush=True)

    """

    static let manifest = """
    version: 1
    name: reliability
    params: {keep: 1000}
    stages:
      bulk:
        uses: ./stages/bulk
        with: {shards: 6, lines: 40000, seed: 7}
      copy:
        uses: ./stages/examples/head
        inputs: {documents: bulk.documents}
        with: {count: 200000}
      sample:
        uses: ./stages/examples/head
        inputs: {documents: copy.documents}
        with: {count: "${params.keep}"}
      stats:
        uses: ./stages/examples/stats
        inputs: {documents: sample.documents}

    """

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.write("stages/bulk/stage.yaml", """
        name: bulk
        version: 1
        run: [python3, main.py]
        outputs:
          documents: {kind: documents}
        params:
          shards: {type: int}
          lines: {type: int}
          seed: {type: int}

        """)
        try ws.write("stages/bulk/main.py", Self.bulkPlugin)
        try ws.write("p.yaml", Self.manifest)
    }

    override func tearDown() { ws.remove() }

    /// Output artifact ids by stage, from the lock file.
    func outputIds(_ workspace: Workspace) throws -> [String: [String: String]] {
        let lock = try JSONSerialization.jsonObject(with: Data(contentsOf: workspace.root.appendingPathComponent("p.lock"))) as! [String: Any]
        let stages = lock["stages"] as! [String: [String: Any]]
        return stages.mapValues { $0["outputs"] as! [String: String] }
    }

    func testKillingPipeAtRandomMomentsNeverCorruptsTheCache() throws {
        let reference = try Workspace()
        defer { reference.remove() }
        try reference.write("stages/bulk/stage.yaml", try ws.read("stages/bulk/stage.yaml"))
        try reference.write("stages/bulk/main.py", Self.bulkPlugin)
        try reference.write("p.yaml", Self.manifest)
        XCTAssertEqual(try reference.run(["run", "p.yaml"]).status, 0)
        // How long the killed command takes when left alone, so that the kill moments fall inside it.
        let forced = ["run", "p.yaml", "--force", "bulk", "--force", "copy", "--force", "sample"]
        let started = Date()
        XCTAssertEqual(try reference.run(forced).status, 0)
        let forcedRun = Date().timeIntervalSince(started)
        let expected = try outputIds(reference)
        XCTAssertEqual(expected.count, 4)

        // Seeded, so a failing sequence of kill moments can be replayed: PIPE_KILL_SEED=N.
        let seed = ProcessInfo.processInfo.environment["PIPE_KILL_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...UInt64(1 << 32))
        var generator = SplitMix64(seed: seed)
        var killedMidRun = 0
        for round in 0..<22 {
            let process = Process()
            process.executableURL = Workspace.binary
            process.arguments = forced
            process.currentDirectoryURL = ws.root
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            let delay = 0.02 + generator.nextUnit() * max(0, forcedRun * 0.9 - 0.02)
            Thread.sleep(forTimeInterval: delay)
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                killedMidRun += 1
            }
            process.waitUntilExit()

            let verify = try ws.run(["verify"])
            XCTAssertEqual(verify.status, 0, "round \(round) (PIPE_KILL_SEED=\(seed)): \(verify.stdout)")
            XCTAssertTrue(verify.stdout.contains("no corrupt objects"), "round \(round) (PIPE_KILL_SEED=\(seed)): \(verify.stdout)")
            let rerun = try ws.run(["run", "p.yaml"])
            XCTAssertEqual(rerun.status, 0, "round \(round) (PIPE_KILL_SEED=\(seed)): \(rerun.stderr)")
            XCTAssertEqual(try outputIds(ws), expected, "round \(round) (PIPE_KILL_SEED=\(seed)): outputs differ from an uninterrupted run")
        }
        XCTAssertGreaterThanOrEqual(killedMidRun, 15, "most kills must land while stages are writing")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("cache/tmp").path)
        XCTAssertTrue(leftovers.filter { $0.hasPrefix("run-") }.count <= 1, "orphaned run folders are cleaned: \(leftovers)")
    }

    func testTwoConcurrentRunsShareTheWorkAndBothSucceed() throws {
        try ws.write("stages/slow/stage.yaml", "name: slow\nversion: 1\nrun: [sh, run.sh]\noutputs:\n  documents: {kind: documents}\n")
        try ws.write("stages/slow/run.sh", "sleep 2\necho '{\"id\":\"1\",\"text\":\"slow\"}' > \"$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl\"\n")
        try ws.write("c.yaml", "version: 1\nname: c\nstages:\n  slow:\n    uses: ./stages/slow\n  stats:\n    uses: ./stages/examples/stats\n    inputs: {documents: slow.documents}\n")
        func start() throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = Workspace.binary
            process.arguments = ["run", "c.yaml", "--json"]
            process.currentDirectoryURL = ws.root
            let out = Pipe()
            process.standardOutput = out
            process.standardError = FileHandle.nullDevice
            try process.run()
            return (process, out)
        }
        let began = Date()
        let (a, aOut) = try start()
        let (b, bOut) = try start()
        let aData = aOut.fileHandleForReading.readDataToEndOfFile(), bData = bOut.fileHandleForReading.readDataToEndOfFile()
        a.waitUntilExit()
        b.waitUntilExit()
        XCTAssertEqual(a.terminationStatus, 0)
        XCTAssertEqual(b.terminationStatus, 0)
        XCTAssertLessThan(Date().timeIntervalSince(began), 3.9, "the second run waited and reused, it did not redo the work")
        func statuses(_ data: Data) -> [String] {
            let summary = try! JSONSerialization.jsonObject(with: data) as! [String: Any]
            return (summary["stages"] as! [[String: Any]]).map { $0["status"] as! String }
        }
        XCTAssertEqual(Set([statuses(aData)[0], statuses(bData)[0]]), ["ran", "cached"])
        XCTAssertEqual(try ws.run(["verify"]).status, 0)
    }

    func testCorruptObjectIsReportedRemovedAndRebuilt() throws {
        XCTAssertEqual(try ws.run(["run", "p.yaml", "--set", "keep=10"]).status, 0)
        let record = try lastRecord(stage: "sample")
        let blob = record.blobs[0]
        let object = ws.root.appendingPathComponent("cache/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        chmod(object.path, 0o644)
        var bytes = try Data(contentsOf: object)
        bytes[bytes.count - 5] ^= 0x55
        try bytes.write(to: object)

        let verify = try ws.run(["verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("corrupt \(blob)"), verify.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: object.path))
        XCTAssertTrue(verify.stdout.contains("1 cached runs miss objects"), verify.stdout)

        XCTAssertEqual(try ws.runStages("p.yaml", ["--set", "keep=10"]),
                       ["bulk": "cached", "copy": "cached", "sample": "ran", "stats": "cached"])
        XCTAssertEqual(try ws.run(["verify"]).status, 0)
    }

    func testTruncatedObjectIsNoticedWithoutReadingIt() throws {
        XCTAssertEqual(try ws.run(["run", "p.yaml"]).status, 0)
        let blob = try lastRecord(stage: "copy").blobs[0]
        let object = ws.root.appendingPathComponent("cache/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        XCTAssertEqual(truncate(object.path, 100), 0)
        let status = try ws.run(["status", "p.yaml"])
        XCTAssertTrue(status.stdout.contains("outputs missing from the cache"), status.stdout)
        XCTAssertEqual(try ws.runStages("p.yaml"), ["bulk": "cached", "copy": "ran", "sample": "cached", "stats": "cached"])
    }

    func testGarbageCollectionKeepsWhatLockFilesReference() throws {
        XCTAssertEqual(try ws.run(["run", "p.yaml", "--set", "keep=5"]).status, 0)
        XCTAssertEqual(try ws.run(["run", "p.yaml"]).status, 0)
        let dry = try ws.run(["gc", "--grace", "0", "--dry-run", "--json"])
        let planned = dry.json as! [String: Any]
        XCTAssertEqual(planned["runs_removed"] as? Int, 2, dry.stdout)  // sample and stats of keep=5
        XCTAssertGreaterThan(planned["bytes_freed"] as! Int, 0)
        XCTAssertEqual(try ws.runStages("p.yaml", ["--set", "keep=5"]).values.filter { $0 == "ran" }.count, 0,
                       "a dry run removes nothing")
        XCTAssertEqual(try ws.run(["run", "p.yaml"]).status, 0)

        let collected = try ws.run(["gc", "--grace", "0", "--json"]).json as! [String: Any]
        XCTAssertEqual(collected["runs_removed"] as? Int, 2)
        XCTAssertEqual(Set(try ws.runStages("p.yaml").values), ["cached"], "what the lock references survives")
        XCTAssertEqual(try ws.runStages("p.yaml", ["--set", "keep=5"])["sample"], "ran", "what it did not is gone")
        XCTAssertEqual(try ws.run(["verify"]).status, 0)
    }

    /// The run record of a stage's current lock entry.
    func lastRecord(stage: String) throws -> (key: String, blobs: [String]) {
        let lock = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("p.lock"))) as! [String: Any]
        let key = ((lock["stages"] as! [String: [String: Any]])[stage]!["key"]) as! String
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("cache/runs/\(key).json"))) as! [String: Any]
        let outputs = record["outputs"] as! [String: [String: Any]]
        let blobs = outputs.values.flatMap { ($0["files"] as! [[String: Any]]).map { $0["blob"] as! String } }
        return (key, blobs)
    }
}
