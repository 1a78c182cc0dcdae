import Foundation
import XCTest

/// End-to-end behaviour of `pipe run` and `pipe status` on a five-stage pipeline of plugins.
final class RunTests: XCTestCase {
    var ws: Workspace!

    static let manifest = """
    version: 1
    name: e2e
    params:
      keep: 3
      min_chars: 0
    stages:
      source:
        uses: ./stages/examples/read-text
        with: {path: corpus}
      lower:
        uses: ./stages/examples/lowercase
        inputs: {documents: source.documents}
        with: {min_chars: "${params.min_chars}"}
      short:
        uses: ./stages/examples/head
        inputs: {documents: lower.documents}
        with: {count: "${params.keep}"}
      short_stats:
        uses: ./stages/examples/stats
        inputs: {documents: short.documents}
        publish: {metrics: out/short.json}
      all_stats:
        uses: ./stages/examples/stats
        inputs: {documents: lower.documents}

    """

    override func setUpWithError() throws {
        ws = try Workspace()
        for n in 1...5 { try ws.write("corpus/doc\(n).txt", "Document Number \(n)\nWith Some TEXT.\n") }
        try ws.write("p.yaml", Self.manifest)
    }

    override func tearDown() { ws.remove() }

    func testFirstRunRunsEverythingAndSecondRunsNothing() throws {
        let first = try ws.runStages("p.yaml")
        XCTAssertEqual(first, ["source": "ran", "lower": "ran", "short": "ran", "short_stats": "ran", "all_stats": "ran"])
        XCTAssertEqual(try ws.read("out/short.json"), "{\"documents.count\": 3, \"documents.bytes\": 348}\n")

        let second = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(second.status, 0)
        XCTAssertTrue(second.stderr.contains("Nothing to do: all 5 stages are up to date (0 ran, 5 cached)"), second.stderr)
    }

    func testParameterChangeRerunsOnlyThatStageAndDependentsAndRevertReusesTheOldRun() throws {
        _ = try ws.runStages("p.yaml")
        let changed = try ws.runStages("p.yaml", ["--set", "keep=2"])
        XCTAssertEqual(changed, ["source": "cached", "lower": "cached", "short": "ran", "short_stats": "ran", "all_stats": "cached"])
        XCTAssertTrue(try ws.read("out/short.json").contains("\"documents.count\": 2"))

        let reverted = try ws.runStages("p.yaml")
        XCTAssertEqual(Set(reverted.values), ["cached"])
        XCTAssertTrue(try ws.read("out/short.json").contains("\"documents.count\": 3"), "publish follows the reverted run")
    }

    func testStatusNamesTheChangedParameterWithOldAndNewValue() throws {
        _ = try ws.runStages("p.yaml")
        let status = try ws.run(["status", "p.yaml", "--set", "keep=7"])
        XCTAssertEqual(status.status, 0)
        let line = status.stdout.split(separator: "\n").first { $0.hasPrefix("short ") }
        XCTAssertNotNil(line)
        XCTAssertTrue(line!.contains("stale"), String(line!))
        XCTAssertTrue(line!.contains("parameter count changed 3 -> 7"), String(line!))
        XCTAssertTrue(status.stdout.contains("upstream short will run"))
        let fresh = try ws.run(["status", "p.yaml", "--json"])
        let states = (fresh.json as! [[String: Any]]).map { $0["state"] as! String }
        XCTAssertEqual(states, Array(repeating: "fresh", count: 5))
    }

    func testUpstreamChangeWithIdenticalOutputLeavesDownstreamCached() throws {
        _ = try ws.runStages("p.yaml")
        // No document is shorter than 1 character, so lower's output bytes do not change.
        let result = try ws.runStages("p.yaml", ["--set", "min_chars=1"])
        XCTAssertEqual(result, ["source": "cached", "lower": "ran", "short": "cached", "short_stats": "cached", "all_stats": "cached"])
    }

    func testDeletedObjectRerunsExactlyTheStageThatProducedIt() throws {
        _ = try ws.runStages("p.yaml")
        let show = try ws.run(["show", "p.yaml", "short", "--json"])
        let key = (show.json as! [String: Any])["key"] as! String
        let record = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("cache/runs/\(key).json"))) as! [String: Any]
        let outputs = record["outputs"] as! [String: [String: Any]]
        let blob = (outputs["documents"]!["files"] as! [[String: Any]])[0]["blob"] as! String
        let object = ws.root.appendingPathComponent("cache/objects/\(blob.prefix(2))/\(blob.dropFirst(2))")
        try FileManager.default.removeItem(at: object)

        let result = try ws.runStages("p.yaml")
        XCTAssertEqual(result, ["source": "cached", "lower": "cached", "short": "ran", "short_stats": "cached", "all_stats": "cached"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: object.path))
    }

    func testExternalFileChangeMakesSourceStale() throws {
        _ = try ws.runStages("p.yaml")
        try ws.write("corpus/doc1.txt", "Changed\n")
        let status = try ws.run(["status", "p.yaml"])
        XCTAssertTrue(status.stdout.contains("external input corpus changed"), status.stdout)
        let result = try ws.runStages("p.yaml")
        XCTAssertEqual(result["source"], "ran")
    }

    func testTargetsRunOnlyWhatTheyNeedAndForceReruns() throws {
        let targeted = try ws.runStages("p.yaml", ["short"])
        XCTAssertEqual(targeted, ["source": "ran", "lower": "ran", "short": "ran"])
        let forced = try ws.runStages("p.yaml", ["short", "--force", "lower"])
        XCTAssertEqual(forced, ["source": "cached", "lower": "ran", "short": "cached"])
    }

    func testDryRunShowsWhatWouldRunAndWritesNothing() throws {
        let plan = try ws.run(["run", "p.yaml", "--dry-run"])
        XCTAssertEqual(plan.status, 0)
        XCTAssertTrue(plan.stdout.contains("would run source: never run"), plan.stdout)
        XCTAssertTrue(plan.stdout.contains("5 of 5 stages would run"), plan.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("p.lock").path))
    }
}
