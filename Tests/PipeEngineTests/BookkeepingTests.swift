import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// Removes a stage's run record the moment the stage finishes, as a concurrent `pipe gc` can.
private final class RecordRemovingObserver: RunObserver, @unchecked Sendable {
    let cache: Cache
    let stage: String
    init(cache: Cache, stage: String) { self.cache = cache; self.stage = stage }
    func started(_ stage: String, reasons: [StaleReason]) {}
    func progress(_ stage: String, fraction: Double?, message: String) {}
    func log(_ stage: String, _ line: String) {}
    func warning(_ stage: String, _ message: String) {}
    func intermediate(_ stage: String, name: String, step: Int, value: Double) {}
    func finished(_ stage: String, _ outcome: StageOutcome) {
        guard stage == self.stage else { return }
        for key in cache.runs.allKeys() { cache.runs.remove(key) }
    }
}

/// The runner's bookkeeping (run records, lock file, parameter diffs) fails loudly, never silently
/// and never with a trap.
final class BookkeepingTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-bookkeeping-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDown() { FileSystem.removeTree(root) }

    func load(_ text: String) throws -> Manifest {
        try Data(text.utf8).write(to: root.appendingPathComponent("m.yaml"))
        let loader = ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ByteCountStage.self)]), workspace: root)
        return try loader.load(root.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
    }

    static let twoStages = "version: 1\nname: t\nstages:\n  first:\n    uses: byte-count\n    with: {label: a}\n"
        + "  second:\n    uses: byte-count\n    inputs: {data: first.metrics}\n    with: {scale: 2.0}\n"

    func testARunRecordRemovedBeforeDependentsReadItDoesNotStopThem() async throws {
        let manifest = try load(Self.twoStages)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        let observer = RecordRemovingObserver(cache: cache, stage: "first")
        let summary = try await PipelineRunner(manifest: manifest, cache: cache, observer: observer, options: RunOptions()).run()
        XCTAssertEqual(summary.reports.map(\.outcome.label), ["ran", "ran"])
    }

    func testStatusComparesNumbersByValueAndBlamesTheMissingOutput() async throws {
        let manifest = try load(Self.twoStages)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        let summary = try await PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
        let record = try XCTUnwrap(cache.runs.load(XCTUnwrap(summary.reports[1].key)))
        for file in record.outputs["metrics"]!.files { cache.objects.remove(file.blob) }

        let statuses = try PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).status()
        XCTAssertEqual(statuses.map(\.state), [.fresh, .stale])
        XCTAssertEqual(statuses[1].reasons, [.outputsMissing])
    }

    func testALockFileThatCannotBeWrittenIsAnError() throws {
        let folder = root.appendingPathComponent("sub")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let writer = try LockFileWriter(url: folder.appendingPathComponent("m.lock"), cache: Cache(root: root.appendingPathComponent("cache")))
        FileSystem.removeTree(folder)
        try Data("not a folder".utf8).write(to: folder)
        XCTAssertThrowsError(try writer.update("s") { $0 = nil }) { error in
            XCTAssertTrue("\(error)".contains("lock file \(folder.path)/m.lock: Not a directory"), "\(error)")
        }
    }

    func testACorruptLockFileIsSetAsideNotOverwritten() async throws {
        let manifest = try load(Self.twoStages)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        try Data("{\"stages\": [".utf8).write(to: manifest.lockURL)
        XCTAssertThrowsError(try PipelineLock.load(manifest.lockURL)) { XCTAssertTrue("\($0)".contains("is corrupt"), "\($0)") }

        let runner = try PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions())
        XCTAssertTrue(runner.notices.first?.contains("m.lock is corrupt") ?? false, "\(runner.notices)")
        _ = await runner.run()
        let aside = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix("m.lock.corrupt-") }
        XCTAssertEqual(aside.count, 1)
        XCTAssertEqual(try String(contentsOf: root.appendingPathComponent(aside[0]), encoding: .utf8), "{\"stages\": [")
        XCTAssertEqual(try PipelineLock.load(manifest.lockURL).stages.keys.sorted(), ["first", "second"])
    }

    func testACorruptRunRecordIsReportedByGCAndVerifyAndRerunByRun() async throws {
        let manifest = try load(Self.twoStages)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        let first = try await PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
        let key = try XCTUnwrap(first.reports[0].key)
        try Data("garbage".utf8).write(to: cache.runs.url(key))

        XCTAssertThrowsError(try cache.runs.load(key)) { XCTAssertTrue("\($0)".contains("\(key).json is corrupt"), "\($0)") }
        let gc = Maintenance.collect(cache, keep: [key], dryRun: true, grace: 0)
        XCTAssertEqual(gc.unreadableRuns.map(\.path), [cache.runs.url(key).path])
        XCTAssertEqual(Maintenance.verify(cache, threads: 1).unreadableRuns.count, 1)

        let again = try await PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
        XCTAssertEqual(again.reports.map(\.outcome.label), ["ran", "cached"])
        XCTAssertNotNil(try cache.runs.load(key))
    }

    func testParametersThatDoNotDecodeAreAnErrorNotAnEmptyListOfFiles() throws {
        let descriptor = StageDescriptor(builtin: ByteCountStage.self)
        XCTAssertThrowsError(try descriptor.externalInputs(.object(["scale": .string("x")]))) {
            XCTAssertTrue("\($0)".contains("parameters of a byte-count stage do not decode"), "\($0)")
        }
    }
}
