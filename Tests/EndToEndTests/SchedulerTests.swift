import Foundation
import XCTest

/// Failure policy, interruption and the graph views.
final class SchedulerTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.write("corpus/a.txt", "Alpha\n")
        try ws.write("stages/fail/stage.yaml", "name: fail\nversion: 1\nrun: [sh, -c, 'echo nope; exit 1']\noutputs:\n  documents: {kind: documents}\n")
        try ws.write("stages/slow/stage.yaml", "name: slow\nversion: 1\nrun: [sh, run.sh]\noutputs:\n  documents: {kind: documents}\n")
        try ws.write("stages/slow/run.sh", "echo started > \"$PIPE_WORKSPACE/started\"\nsleep 47\necho x > \"$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl\"\n")
        try ws.write("p.yaml", """
        version: 1
        name: branches
        stages:
          bad:
            uses: ./stages/fail
          after_bad:
            uses: ./stages/examples/head
            inputs: {documents: bad.documents}
          source:
            uses: ./stages/examples/read-text
            with: {path: corpus}
          good:
            uses: ./stages/examples/stats
            inputs: {documents: source.documents}

        """)
    }

    override func tearDown() { ws.remove() }

    func testKeepGoingRunsIndependentBranchesAndNamesTheSkippedDependents() throws {
        let output = try ws.run(["run", "p.yaml", "--keep-going", "--json", "-j", "1"])
        XCTAssertEqual(output.status, 1)
        let stages = (output.json as! [String: Any])["stages"] as! [[String: Any]]
        let byName = Dictionary(uniqueKeysWithValues: stages.map { ($0["stage"] as! String, $0) })
        XCTAssertEqual(byName["bad"]?["status"] as? String, "failed")
        XCTAssertEqual(byName["after_bad"]?["status"] as? String, "skipped")
        XCTAssertEqual(byName["after_bad"]?["reason"] as? String, "bad did not succeed")
        XCTAssertEqual(byName["source"]?["status"] as? String, "ran")
        XCTAssertEqual(byName["good"]?["status"] as? String, "ran")
    }

    func testWithoutKeepGoingNothingNewStartsAfterAFailure() throws {
        let output = try ws.run(["run", "p.yaml", "--json", "-j", "1"])
        XCTAssertEqual(output.status, 1)
        let stages = (output.json as! [String: Any])["stages"] as! [[String: Any]]
        XCTAssertEqual(stages.map { $0["status"] as! String }, ["failed", "skipped", "skipped", "skipped"])
    }

    func testInterruptStopsThePluginCachesNothingAndExits130() throws {
        try ws.write("s.yaml", "version: 1\nname: s\nstages:\n  slow:\n    uses: ./stages/slow\n")
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = ["run", "s.yaml"]
        process.currentDirectoryURL = ws.root
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let started = ws.root.appendingPathComponent("started")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: started.path), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let interrupted = Date()
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertLessThan(Date().timeIntervalSince(interrupted), 10, "the plugin's process group was stopped")
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("cache/runs").path)) ?? []
        XCTAssertTrue(runs.isEmpty, "nothing cached: \(runs)")
        let tmp = (try? FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("cache/tmp").path)) ?? []
        XCTAssertTrue(tmp.filter { $0.hasPrefix("run-") }.isEmpty, "temporary folders removed: \(tmp)")
        // A duration no other test uses, so only this test's plugin can match; a killed process
        // may take a moment to go on a loaded machine.
        var sleepers = try shellOutput("pgrep -f '^sleep 47$' || true")
        let gone = Date().addingTimeInterval(3)
        while !sleepers.isEmpty, Date() < gone {
            Thread.sleep(forTimeInterval: 0.1)
            sleepers = try shellOutput("pgrep -f '^sleep 47$' || true")
        }
        XCTAssertTrue(sleepers.isEmpty, "the plugin is gone: \(sleepers)")
    }

    func testDagFormats() throws {
        let tree = try ws.run(["dag", "p.yaml"])
        XCTAssertEqual(tree.stdout, """
        ● bad (fail)
        ● source (read-text)
          └─ after_bad (head)  ← bad.documents
          └─ good (stats)  ← source.documents

        """)
        let dot = try ws.run(["dag", "p.yaml", "--format", "dot"]).stdout
        XCTAssertTrue(dot.contains("\"source\" -> \"good\" [label=\"documents → documents\"];"), dot)
        let mermaid = try ws.run(["dag", "p.yaml", "--format", "mermaid"]).stdout
        XCTAssertTrue(mermaid.hasPrefix("flowchart LR\n"), mermaid)
        XCTAssertTrue(mermaid.contains("bad -->|documents → documents| after_bad"), mermaid)
    }

    func shellOutput(_ command: String) throws -> String {
        try Workspace.execute("/bin/sh", ["-c", command], in: ws.root).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
