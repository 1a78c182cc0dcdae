import Foundation
import XCTest

/// `collect` on hostile inputs: bombs, oversized and damaged records, files that are not files,
/// links out of the folder and servers that never finish. Each run is bounded in time and in
/// pipe's peak memory, and what is left out is counted.
final class HostileCollectTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    static let memoryLimitKiB = 300 * 1024

    func shell(_ command: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try Workspace.execute("/bin/sh", ["-e", "-c", command], in: ws.root)
        XCTAssertEqual(result.status, 0, result.output, file: file, line: line)
    }

    /// Writes a manifest whose one `collect` stage has `with`, publishing to out/docs.
    func writeManifest(_ with: String) throws {
        try ws.write("c.yaml", "version: 1\nname: c\nstages:\n  collect:\n    uses: collect\n    with: \(with)\n    publish: {documents: out/docs/}\n")
    }

    /// Runs the collect manifest, killed after `seconds`; asserts it succeeded within bounded memory.
    func runBounded(_ with: String, seconds: TimeInterval = 120, file: StaticString = #filePath, line: UInt = #line) throws {
        try writeManifest(with)
        let run = try ws.runMeasuringPeakMemory(["run", "c.yaml"], killAfter: seconds)
        XCTAssertEqual(run.status, 0, "pipe run (137: killed after \(seconds) s)", file: file, line: line)
        XCTAssertLessThan(run.peakKiB, Self.memoryLimitKiB, "peak RSS of pipe (KiB)", file: file, line: line)
        print("peak RSS \(run.peakKiB / 1024) MiB: \(name)")
    }

    /// The texts collected, the stage's metrics and warnings (its log's `warning: ` lines).
    func result() throws -> (texts: [String], metrics: [String: Double], warnings: [String]) {
        let show = try ws.run(["show", "c.yaml", "collect", "--json"]).json as? [String: Any] ?? [:]
        let texts = try ws.documents("out/docs").map { $0["text"] as! String }
        let warnings = (show["log"] as? [String] ?? []).filter { $0.hasPrefix("warning: ") }
        return (texts, show["metrics"] as? [String: Double] ?? [:], warnings)
    }

    // MARK: records larger than max_record_bytes

    func testGzipBombOfZerosReadAsJSONLIsSkippedInBoundedMemory() throws {
        try shell("mkdir src && { printf '{\"text\": \"before\"}\\n'; head -c 1073741824 /dev/zero; printf '\\n{\"text\": \"after\"}\\n'; } | gzip -1 > src/bomb.jsonl.gz")
        try runBounded("{sources: [{path: src}]}")
        let result = try result()
        XCTAssertEqual(result.texts, ["before", "after"])
        XCTAssertEqual(result.metrics["collect.skipped_large_records"], 1)
        XCTAssertTrue(result.warnings.contains { $0.contains("1 record(s) larger than max_record_bytes") }, "\(result.warnings)")
    }

    func testWARCRecordOverTheCapIsSkippedWithoutBufferingIt() throws {
        let header = "WARC/1.0\\r\\nWARC-Type: conversion\\r\\nContent-Type: text/plain\\r\\nContent-Length: %s\\r\\n\\r\\n"
        try shell("mkdir crawl && { printf '\(header)first\\r\\n\\r\\n' 5; printf '\(header)' 1073741824; head -c 1073741824 /dev/zero; "
            + "printf '\\r\\n\\r\\n\(header)third\\r\\n\\r\\n' 5; } | gzip -1 > crawl/c.warc.gz")
        try runBounded("{sources: [{path: crawl}]}")
        let result = try result()
        XCTAssertEqual(result.texts, ["first", "third"])
        XCTAssertEqual(result.metrics["collect.skipped_large_records"], 1)
    }

    func testOversizedRecordsFailTheRunWhenAskedTo() throws {
        try ws.write("src/a.jsonl", "{\"text\": \"short\"}\n{\"text\": \"\(String(repeating: "long ", count: 100))\"}\n")
        try writeManifest("{sources: [{path: src}], max_record_bytes: 100, on_large_record: fail}")
        let run = try ws.run(["run", "c.yaml"])
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("a.jsonl:2: record of 512 bytes is larger than max_record_bytes (100)"), run.stderr)
    }

    // MARK: damaged compressed files

    /// `src/good.txt`, and damaged gzip and zstd copies of a 600 KB text in `src/`.
    func writeDamagedFiles(_ damage: String) throws {
        try ws.write("src/good.txt", "intact\n")
        try ws.write("big.txt", (0..<40_000).map { "line \($0) of a text\n" }.joined())
        try shell("gzip -c big.txt > src/a.txt.gz && zstd -q -c big.txt > src/b.txt.zst && " + damage)
    }

    func testTruncatedCompressedFilesAreErrorsNamingTheFile() throws {
        try writeDamagedFiles("truncate -s -2000 src/a.txt.gz && truncate -s -2000 src/b.txt.zst")
        try writeManifest("{sources: [{path: src, exclude: [\"*.zst\"]}]}")
        var run = try ws.run(["run", "c.yaml"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("src/a.txt.gz: truncated gzip stream"), run.stderr)
        try writeManifest("{sources: [{path: src, exclude: [\"*.gz\"]}]}")
        run = try ws.run(["run", "c.yaml"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("src/b.txt.zst: truncated zstd stream"), run.stderr)
    }

    func testCorruptCompressedFilesAreErrorsOrSkippedAndCounted() throws {
        // Flip bytes in the middle of each stream.
        try writeDamagedFiles("printf 'XXXXXXXX' | dd of=src/a.txt.gz bs=1 seek=20000 conv=notrunc 2>/dev/null && "
            + "printf 'XXXXXXXX' | dd of=src/b.txt.zst bs=1 seek=20000 conv=notrunc 2>/dev/null")
        try writeManifest("{sources: [{path: src}]}")
        let run = try ws.run(["run", "c.yaml"])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("src/a.txt.gz: not valid gzip"), run.stderr)

        try runBounded("{sources: [{path: src}], on_corrupt: skip}")
        let result = try result()
        XCTAssertEqual(result.texts, ["intact\n"])
        XCTAssertEqual(result.metrics["collect.corrupt_files"], 2)
        XCTAssertTrue(result.warnings.contains { $0.contains("2 corrupt file(s)") }, "\(result.warnings)")
    }

    func testTruncatedFilesAreSkippedAndCountedWhenAskedTo() throws {
        try writeDamagedFiles("truncate -s -2000 src/a.txt.gz && truncate -s -2000 src/b.txt.zst")
        try runBounded("{sources: [{path: src}], on_corrupt: skip}")
        let result = try result()
        XCTAssertEqual(result.texts, ["intact\n"])
        XCTAssertEqual(result.metrics["collect.corrupt_files"], 2)
    }

    // MARK: what a folder holds

    func testFIFOInACollectedFolderIsSkippedAndCounted() throws {
        try ws.write("src/a.txt", "a file\n")
        try shell("mkfifo src/pipe.txt")
        try runBounded("{sources: [{path: src}]}", seconds: 60)
        let result = try result()
        XCTAssertEqual(result.texts, ["a file\n"])
        XCTAssertEqual(result.metrics["collect.skipped_special_files"], 1)
        XCTAssertTrue(result.warnings.contains { $0.contains("1 file(s) that are not regular files") }, "\(result.warnings)")
    }

    func testSymlinksLeadingOutsideTheFolderAreSkippedUnlessFollowed() throws {
        try ws.write("outside/secret.txt", "outside\n")
        try ws.write("src/a.txt", "inside\n")
        try shell("ln -s ../outside/secret.txt src/link.txt && ln -s a.txt src/same.txt")
        try runBounded("{sources: [{path: src}]}", seconds: 60)
        var result = try result()
        XCTAssertEqual(result.texts, ["inside\n", "inside\n"], "a.txt and same.txt, not link.txt")
        XCTAssertEqual(result.metrics["collect.skipped_symlinks"], 1)
        XCTAssertTrue(result.warnings.contains { $0.contains("1 symlink(s) leading outside") }, "\(result.warnings)")

        try runBounded("{sources: [{path: src, follow_symlinks: true}]}", seconds: 60)
        result = try self.result()
        XCTAssertEqual(result.texts, ["inside\n", "outside\n", "inside\n"])
        XCTAssertEqual(result.metrics["collect.skipped_symlinks"], 0)
    }

    func testSymlinkedSourceRootIsCollected() throws {
        try ws.write("real/a.txt", "one\n")
        try ws.write("real/sub/b.txt", "two\n")
        try shell("ln -s real linked")
        try runBounded("{sources: [{path: linked}]}", seconds: 60)
        XCTAssertEqual(try result().texts, ["one\n", "two\n"])
        // Its files are in the key: an edit makes the stage stale.
        try ws.write("real/sub/b.txt", "two, edited\n")
        let status = try ws.run(["status", "c.yaml"])
        XCTAssertTrue(status.stdout.contains("external input linked changed"), status.stdout)
    }
}

/// `collect`'s URL sources against a hostile server the test starts on 127.0.0.1.
final class HostileCollectURLTests: XCTestCase {
    var ws: Workspace!
    var server: Process!
    var base = ""

    override func setUpWithError() throws {
        ws = try Workspace()
        server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", Workspace.repository.appendingPathComponent("tests-python/hostile_http_fixture.py").path, "port"]
        server.currentDirectoryURL = ws.root
        try server.run()
        let portFile = ws.root.appendingPathComponent("port")
        let deadline = Date().addingTimeInterval(10)
        while (try? String(contentsOf: portFile, encoding: .utf8))?.isEmpty ?? true, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        base = "http://127.0.0.1:" + (try String(contentsOf: portFile, encoding: .utf8))
    }

    override func tearDown() {
        server.terminate()
        server.waitUntilExit()
        ws.remove()
    }

    func writeManifest(_ source: String, _ extra: String = "") throws {
        try ws.write("u.yaml", "version: 1\nname: u\nstages:\n  collect:\n    uses: collect\n    with:\n      sources: [{kind: urls, robots: false, retries: 0, \(source)}]\n\(extra)    publish: {documents: out/docs/}\n")
    }

    func testEndlessChunkedBodyStopsAtMaxFileBytes() throws {
        try writeManifest("urls: [\"\(base)/endless\", \"\(base)/ok\"]", "      max_file_bytes: 1000000\n")
        let run = try ws.runMeasuringPeakMemory(["run", "u.yaml"], killAfter: 30)
        XCTAssertEqual(run.status, 0)
        XCTAssertLessThan(run.peakKiB, HostileCollectTests.memoryLimitKiB, "peak RSS of pipe (KiB)")
        print("peak RSS \(run.peakKiB / 1024) MiB: \(name)")
        XCTAssertEqual(try ws.documents("out/docs").map { $0["text"] as! String }, ["fine words"])
        let log = try ws.run(["show", "u.yaml", "collect", "--log"]).stdout
        XCTAssertTrue(log.contains("skipped \(base)/endless: larger than 1000000 bytes"), log)
    }

    func testTricklingServerIsCutOffAtTheDeadline() throws {
        try writeManifest("urls: [\"\(base)/trickle\", \"\(base)/ok\"], timeout: 2, deadline: 3")
        let started = Date()
        let run = try ws.runMeasuringPeakMemory(["run", "u.yaml"], killAfter: 60)
        XCTAssertEqual(run.status, 0, "pipe run (137: killed after 60 s)")
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        XCTAssertEqual(try ws.documents("out/docs").map { $0["text"] as! String }, ["fine words"])
        let log = try ws.run(["show", "u.yaml", "collect", "--log"]).stdout
        XCTAssertTrue(log.contains("skipped \(base)/trickle: not complete within the deadline (3 s)"), log)
    }
}
