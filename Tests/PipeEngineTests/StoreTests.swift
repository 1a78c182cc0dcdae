import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

final class StoreTests: XCTestCase {
    var root: URL!
    var cache: Cache!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-store-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        cache = Cache(root: root.appendingPathComponent("cache"))
    }

    override func tearDown() { FileSystem.removeTree(root) }

    func file(_ name: String, _ data: Data) throws -> URL {
        let url = root.appendingPathComponent(name)
        try data.write(to: url)
        return url
    }

    func testBlobIdIsTheXXH3OfTheRawBytes() throws {
        // Reference values from `xxhsum -H2` (XXH128, canonical big-endian hex).
        let blob = try cache.objects.put(file: file("a", Data("hello\n".utf8)))
        XCTAssertEqual(blob.blob, "6bba86c7e069f56d5a10b435f1c8e49c")
        XCTAssertEqual(blob.size, 6)
        XCTAssertEqual(Hasher128.hash(Data()).hex, "99aa06d3014798d86001c324468d497f")
        let streaming = Hasher128()
        streaming.update("hel")
        streaming.update("lo\n")
        XCTAssertEqual(streaming.finalize().hex, blob.blob)
    }

    func testRoundTripOfALargeFileStreamsThroughZstd() throws {
        var data = Data(count: 5 << 20)
        data.withUnsafeMutableBytes { raw in
            var x: UInt64 = 42
            for i in 0..<raw.count { x = x &* 6364136223846793005 &+ 1442695040888963407; raw[i] = UInt8((x >> 59) + 97) }
        }
        let blob = try cache.objects.put(file: file("big", data))
        XCTAssertTrue(cache.objects.isPresent(blob.blob, stored: blob.stored))
        XCTAssertLessThan(blob.stored, blob.size)
        var back = Data()
        try cache.objects.read(blob.blob) { back.append(contentsOf: $0) }
        XCTAssertEqual(back, data)
    }

    func testEmptyFilesAreStored() throws {
        let blob = try cache.objects.put(file: file("empty", Data()))
        var count = 0
        try cache.objects.read(blob.blob) { count += $0.count }
        XCTAssertEqual(count, 0)
    }

    func testCorruptObjectIsDetectedAndRemoved() throws {
        let blob = try cache.objects.put(file: file("a", Data(repeating: 7, count: 100_000)))
        let path = cache.objects.path(of: blob.blob)
        chmod(path, 0o644)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count / 2] ^= 0xFF
        try bytes.write(to: URL(fileURLWithPath: path))
        XCTAssertNotNil(cache.objects.verify(blob.blob))
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testTruncatedObjectFailsTheSizeCheckAndTheRead() throws {
        let blob = try cache.objects.put(file: file("a", Data((0..<200_000).map { UInt8($0 % 251) })))
        let path = cache.objects.path(of: blob.blob)
        XCTAssertEqual(truncate(path, Int(blob.stored) - 10), 0)
        XCTAssertFalse(cache.objects.isPresent(blob.blob, stored: blob.stored))
        XCTAssertThrowsError(try cache.objects.read(blob.blob) { _ in })
    }

    func testTreeIdDependsOnPathsAndContentsOnly() throws {
        let a = root.appendingPathComponent("ta"), b = root.appendingPathComponent("tb")
        for dir in [a, b] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try Data("one".utf8).write(to: dir.appendingPathComponent("x.txt"))
            try Data("two".utf8).write(to: dir.appendingPathComponent("sub/y.txt"))
        }
        let t1 = try ArtifactTree.ingest(folder: a, store: cache.objects, threads: 2)
        let t2 = try ArtifactTree.ingest(folder: b, store: cache.objects, threads: 1)
        XCTAssertEqual(t1.id, t2.id)
        XCTAssertEqual(t1.files.map(\.path), ["sub/y.txt", "x.txt"])
        try Data("three".utf8).write(to: b.appendingPathComponent("x.txt"))
        XCTAssertNotEqual(try ArtifactTree.ingest(folder: b, store: cache.objects, threads: 2).id, t1.id)
    }

    func testSymlinksInOutputsAreRefused() throws {
        let dir = root.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: "/etc/passwd")
        XCTAssertThrowsError(try ArtifactTree.ingest(folder: dir, store: cache.objects, threads: 1))
    }

    func testStatCacheRereadsOnlyChangedFiles() throws {
        let url = try file("ext", Data("v1".utf8))
        let first = try cache.stats.hash(of: url.path)
        XCTAssertEqual(first, Hasher128.hash(Data("v1".utf8)).hex)
        try Data("v2".utf8).write(to: url)
        XCTAssertEqual(try cache.stats.hash(of: url.path), Hasher128.hash(Data("v2".utf8)).hex)
        cache.stats.save()
        XCTAssertEqual(try StatCache(cacheRoot: cache.root).hash(of: url.path), Hasher128.hash(Data("v2".utf8)).hex)
    }
}

/// The in-process path for built-in stages, run by the real scheduler.
final class BuiltinRunTests: XCTestCase {
    func testBuiltinStageRunsCachesAndReadsItsInputFromTheStore() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-builtin-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { FileSystem.removeTree(root) }
        let text = "version: 1\nname: t\nstages:\n  first:\n    uses: byte-count\n    with: {label: a}\n"
            + "  second:\n    uses: byte-count\n    inputs: {data: first.metrics}\n    with: {scale: 2}\n"
        try Data(text.utf8).write(to: root.appendingPathComponent("m.yaml"))
        let loader = ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ByteCountStage.self)]), workspace: root)
        let manifest = try loader.load(root.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
        let cache = Cache(root: root.appendingPathComponent("cache"))

        let summary = try await PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
        XCTAssertEqual(summary.reports.map(\.outcome.label), ["ran", "ran"])
        let key = summary.reports[1].key!
        let record = try XCTUnwrap(cache.runs.load(key))
        XCTAssertEqual(record.metrics["bytes"], 11)  // {"a": 0.0}\n
        let output = StoredArtifact(tree: record.outputs["metrics"]!, store: cache.objects)
        XCTAssertEqual(String(decoding: try output.read("metrics.json"), as: UTF8.self), "{\"n\": 22.0}\n")

        let again = try await PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
        XCTAssertEqual(again.reports.map(\.outcome.label), ["cached", "cached"])
    }
}
