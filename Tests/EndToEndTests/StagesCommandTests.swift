import Foundation
import XCTest

/// `pipe stages`: one kind at a time, and a JSON Schema that the reference validator accepts.
final class StagesCommandTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    func testAKindArgumentShowsOnlyThatKind() throws {
        let one = try ws.run(["stages", "train", "--json"])
        XCTAssertEqual(one.status, 0, one.stderr)
        let kinds = (one.json as? [[String: Any]])?.map { $0["name"] as? String }
        XCTAssertEqual(kinds, ["train"])
        // A list of objects is described field by field (collect's sources).
        let collect = try ws.run(["stages", "collect", "--json"])
        let sources = ((collect.json as? [[String: Any]])?.first?["parameters"] as? [[String: Any]])?.first { $0["name"] as? String == "sources" }
        let fields = (sources?["fields"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
        XCTAssertTrue(fields.contains("follow_symlinks") && fields.contains("deadline"), "\(fields)")
        let typo = try ws.run(["stages", "tran"])
        XCTAssertEqual(typo.status, 2)
        XCTAssertTrue(typo.stderr.contains("'tran' is neither a built-in stage kind nor a plugin folder; did you mean 'train'?"), typo.stderr)
    }

    func testTheManifestSchemaValidatesTheShippedPipelinesAndRefusesBrokenOnes() throws {
        let schema = try ws.run(["stages", "--schema"])
        XCTAssertEqual(schema.status, 0, schema.stderr)
        try ws.write("schema.json", schema.stdout)
        let manifests = try FileManager.default.contentsOfDirectory(atPath: Workspace.repository.appendingPathComponent("pipelines").path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { Workspace.repository.appendingPathComponent("pipelines/\($0)").path }
        XCTAssertFalse(manifests.isEmpty)
        let check = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/manifest_schema_check.py").path, "schema.json",
        ] + manifests, in: ws.root)
        XCTAssertEqual(check.status, 0, check.output)
        XCTAssertTrue(check.output.contains(" passed, 0 failed"), check.output)
    }
}
