import Foundation
import XCTest

/// `publish:` replaces only what pipe published: a user's files are never deleted or overwritten.
final class PublishSafetyTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    func manifest(publish: String) -> String {
        "version: 1\nname: p\nstages:\n  o:\n    uses: objective\n    publish: {objective: \(publish)}\n"
    }

    func assertRunRefused(_ expected: String, status: Int32 = 1, file: StaticString = #filePath, line: UInt = #line) throws {
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, status, output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.contains(expected), output.stderr, file: file, line: line)
    }

    func testAFolderHoldingTheUsersFilesIsNotReplaced() throws {
        try ws.write("corpus/a.txt", "the user's corpus\n")
        try ws.write("m.yaml", manifest(publish: "corpus/"))
        try assertRunRefused("publish target 'corpus/' already exists and pipe did not publish it")
        XCTAssertEqual(try ws.read("corpus/a.txt"), "the user's corpus\n")
    }

    func testAFileThePipeDidNotWriteIsNotOverwritten() throws {
        try ws.write("out/objective.json", "mine\n")
        try ws.write("m.yaml", manifest(publish: "out/objective.json"))
        try assertRunRefused("publish target 'out/objective.json' already exists and pipe did not publish it")
        XCTAssertEqual(try ws.read("out/objective.json"), "mine\n")
    }

    func testPublishingOverTheManifestOrItsLockIsRefusedWhenLoading() throws {
        let text = manifest(publish: "m.yaml")
        try ws.write("m.yaml", text)
        try assertRunRefused("m.yaml:6:26: error: publish path 'm.yaml' would replace the manifest", status: 2)
        XCTAssertEqual(try ws.read("m.yaml"), text)
        try ws.write("m.yaml", manifest(publish: "m.lock"))
        try assertRunRefused("publish path 'm.lock' would replace its lock file", status: 2)
    }

    func testOverlappingTargetsAreRefusedWhenLoading() throws {
        try ws.write("m.yaml", manifest(publish: "out/") + "  p:\n    uses: objective\n    publish: {objective: out/objective.json}\n")
        try assertRunRefused("publish path 'out/objective.json' overlaps 'out/' published by stage 'o'", status: 2)
    }

    func testACopyPipePublishedIsReplacedButAFileAddedBesideItIsNot() throws {
        try ws.write("m.yaml", manifest(publish: "out/objective/"))
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "ran"])
        let published = try FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("out/objective").path)
        XCTAssertFalse(published.isEmpty)

        // A removed copy is restored: it is pipe's own.
        try FileManager.default.removeItem(at: ws.root.appendingPathComponent("out/objective"))
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "cached"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("out/objective").path), published)

        // A file the user put into the published folder stops the next copy.
        try ws.write("out/objective/notes.txt", "keep me\n")
        try assertRunRefused("publish folder 'out/objective/' holds 'notes.txt', which pipe did not publish")
        XCTAssertEqual(try ws.read("out/objective/notes.txt"), "keep me\n")
    }

    func testPublishingIntoTheCacheFolderIsRefused() throws {
        try ws.write("m.yaml", manifest(publish: "cache/objects/"))
        try assertRunRefused("publish path 'cache/objects/' is inside the cache folder")
    }

    func testASymlinkToAFolderAtTheTargetIsRefused() throws {
        try ws.write("real/data.txt", "precious\n")
        try FileManager.default.createDirectory(at: ws.root.appendingPathComponent("out"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: ws.root.appendingPathComponent("out/objective").path, withDestinationPath: "../real")
        try ws.write("m.yaml", manifest(publish: "out/objective/"))
        try assertRunRefused("publish target 'out/objective/' is a symbolic link")
        XCTAssertEqual(try ws.read("real/data.txt"), "precious\n")
    }

    func testAFolderRecordedByAnOlderLockIsReplacedWhenUntouched() throws {
        try ws.write("m.yaml", manifest(publish: "out/objective/"))
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "ran"])
        // Locks written before folder copies listed their files.
        let lock = ws.root.appendingPathComponent("m.lock")
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: lock)) as? [String: Any])
        var stages = try XCTUnwrap(json["stages"] as? [String: [String: Any]])
        var published = try XCTUnwrap(stages["o"]?["published"] as? [String: [String: Any]])
        published["out/objective/"]?["files"] = nil
        stages["o"]?["published"] = published
        json["stages"] = stages
        try JSONSerialization.data(withJSONObject: json).write(to: lock)
        try ws.write("m.yaml", "version: 1\nname: p\nstages:\n  o:\n    uses: objective\n    with: {targets: {test.perplexity: {max: 50}}}\n"
            + "    publish: {objective: out/objective/}\n")
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "ran"])
    }
}
