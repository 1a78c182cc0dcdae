import Foundation
import XCTest

/// Hostile manifests and plugins get a clear error or a bounded, safe result.
final class HostileInputTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    /// A manifest of one stage that needs no input.
    static let objectiveOnly = "version: 1\nname: p\nstages:\n  o:\n    uses: objective\n"

    func assertRefused(_ text: Data, containing expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        try text.write(to: ws.root.appendingPathComponent("m.yaml"))
        let started = Date()
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, 2, output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.contains(expected), output.stderr, file: file, line: line)
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "refused quickly", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("cache").path), file: file, line: line)
    }

    func testAliasBomb() throws {
        var text = "version: 1\nname: bomb\nparams:\n  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1...9 { text += "  a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 9).joined(separator: ", ") + "]\n" }
        text += "stages:\n  o:\n    uses: objective\n"
        try assertRefused(Data(text.utf8), containing: "an alias bomb?")
    }

    func testHundredMegabyteManifest() throws {
        var text = "version: 1\nname: big\nparams:\n"
        let line = "  p\(String(repeating: "x", count: 90)): 1\n"
        text.reserveCapacity(100 << 20)
        while text.utf8.count < 100 << 20 { text += line }
        try assertRefused(Data(text.utf8), containing: "YAML files over 4194304 bytes are refused")
    }

    func testDeeplyNestedParameters() throws {
        let nested = String(repeating: "{a: ", count: 100) + "1" + String(repeating: "}", count: 100)
        try assertRefused(Data("version: 1\nname: deep\nparams:\n  x: \(nested)\nstages:\n  o:\n    uses: objective\n".utf8),
                          containing: "m.yaml:4:")
        XCTAssertTrue(try ws.run(["run", "m.yaml"]).stderr.contains("nesting deeper than 64 levels"))
    }

    func testNonUTF8Manifest() throws {
        var data = Data("version: 1\nname: latin\n# caf".utf8)
        data.append(0xE9)  // é in Latin-1
        data.append(contentsOf: Array("\nstages: {}\n".utf8))
        try assertRefused(data, containing: "m.yaml:3:6: error: file is not valid UTF-8")
    }

    func testPublishPathEscapingThroughASymlinkIsRefusedAtRunTime() throws {
        try FileManager.default.createSymbolicLink(atPath: ws.root.appendingPathComponent("out").path, withDestinationPath: "/tmp")
        try ws.write("m.yaml", "version: 1\nname: p\nstages:\n  o:\n    uses: objective\n    publish: {objective: out/objective.json}\n")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("publish path 'out/objective.json' leads outside the workspace"), output.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/objective.json"))
    }

    func testPluginPrintingAGigabyteKeepsABoundedLogAndMemory() throws {
        try ws.write("stages/noisy/stage.yaml", "name: noisy\nversion: 1\nrun: [sh, run.sh]\noutputs:\n  documents: {kind: documents}\n")
        // 1 GiB of 1 KiB lines on stdout, then a real output.
        try ws.write("stages/noisy/run.sh", """
        head -c 1073741824 /dev/zero | tr '\\0' 'x' | fold -w 1023
        echo '{"id":"1","text":"done"}' > "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"

        """)
        try ws.write("m.yaml", "version: 1\nname: n\nstages:\n  n:\n    uses: ./stages/noisy\n")
        let run = try ws.runMeasuringPeakMemory(["run", "m.yaml"])
        XCTAssertEqual(run.status, 0)
        XCTAssertLessThan(run.peakKiB, 300 * 1024, "peak RSS of pipe (KiB)")
        let log = try ws.run(["show", "m.yaml", "n", "--log"])
        XCTAssertLessThan(log.stdout.utf8.count, 10 << 20)
        XCTAssertTrue(log.stdout.contains("bytes of log dropped; last lines follow"))
    }

    func testEveryDocumentRejectedSaysSoWithTheCountsByFilter() throws {
        try ws.write("src/a.txt", "too short")
        try ws.write("src/b.txt", "also short")
        try ws.write("m.yaml", "version: 1\nname: c\nstages:\n  text:\n    uses: collect\n    with: {sources: [{path: src}]}\n"
            + "  clean:\n    uses: clean\n    inputs: {documents: text.documents}\n")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("left its output 'documents' empty: every document was rejected (length 2)"), output.stderr)
    }

    func testGCRefusesToCollectWithACorruptLockFile() throws {
        try ws.write("m.yaml", Self.objectiveOnly)
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "ran"])
        try ws.write("m.lock", "{\"stages\": {\"o\": 3")
        let gc = try ws.run(["gc", "--grace", "0"])
        XCTAssertEqual(gc.status, 2, gc.stderr)
        XCTAssertTrue(gc.stderr.contains("m.lock is corrupt"), gc.stderr)
        XCTAssertTrue(gc.stderr.contains("removes nothing"), gc.stderr)
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("cache/runs").path).isEmpty)

        let status = try ws.run(["status", "m.yaml"])
        XCTAssertTrue(status.stderr.contains("warning: the lock file \(ws.root.path)/m.lock is corrupt"), status.stderr)
        let run = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("the corrupt lock file was kept as \(ws.root.path)/m.lock.corrupt-"), run.stderr)
        XCTAssertEqual(try ws.run(["gc", "--grace", "0"]).status, 0)
    }

    func testALockThatCannotBeTakenStopsTheRun() throws {
        try ws.write("m.yaml", Self.objectiveOnly)
        try ws.write("cache/locks", "a file where the locks folder belongs")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("cannot create the lock that guards m.lock"), output.stderr)
    }

    func testAFullDiskIsReportedInWordsWithThePath() throws {
        try ws.write("m.yaml", Self.objectiveOnly)
        let cache = ws.root.appendingPathComponent("cache")
        try FileManager.default.createDirectory(at: cache, withIntermediateDirectories: true)
        let mount = try Workspace.execute("/bin/mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", cache.path], in: ws.root)
        guard mount.status == 0 else { throw XCTSkip("cannot mount a small tmpfs here: \(mount.output)") }
        defer { _ = try? Workspace.execute("/bin/umount", [cache.path], in: ws.root) }
        XCTAssertEqual(try ws.runStages("m.yaml"), ["o": "ran"])
        // Fill the file system, then make the stage write again.
        _ = try Workspace.execute("/bin/dd", ["if=/dev/zero", "of=\(cache.path)/fill", "bs=4096", "count=1000"], in: ws.root)
        let output = try ws.run(["run", "m.yaml", "--force", "o"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("o failed: no space left on device: \(cache.path)/tmp/run-o-"), output.stderr)
        XCTAssertFalse(output.stderr.contains("NSCocoaErrorDomain"), output.stderr)
    }

    func testALockFileThatCannotBeReadStopsTheRunAndIsLeftAlone() throws {
        try ws.write("m.yaml", Self.objectiveOnly)
        try ws.write("m.lock/notes.txt", "a folder where the lock file belongs\n")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertNotEqual(output.status, 0)
        XCTAssertTrue(output.stderr.contains("cannot read the lock file \(ws.root.path)/m.lock: Is a directory"), output.stderr)
        XCTAssertEqual(try ws.read("m.lock/notes.txt"), "a folder where the lock file belongs\n")
    }
}
