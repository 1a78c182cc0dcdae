import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// The planner's decisions, apart from any run.
final class PlannerTests: XCTestCase {
    func parts(scale: Double) -> KeyParts {
        KeyParts(kind: "byte-count", code: "builtin@1", params: .object(["scale": .double(scale)]), inputs: [:], external: [:], environment: [:])
    }

    func planner(lastScale: Double?, forced: Set<String> = [], cachedKeys: [String: CachedRun] = [:]) -> Planner {
        var lock = PipelineLock()
        if let lastScale {
            let last = parts(scale: lastScale)
            lock.stages["s"] = PipelineLock.Entry(key: last.key, parts: last, outputs: [:], published: nil)
        }
        return Planner(lock: lock, forced: forced) { key in cachedKeys[key] ?? .none }
    }

    func testFreshNeverRunChangedAndMissing() {
        let current = parts(scale: 2)
        XCTAssertEqual(planner(lastScale: 2, cachedKeys: [current.key: .complete]).decide("s", parts: current), .fresh(key: current.key))
        XCTAssertEqual(planner(lastScale: nil).decide("s", parts: current), .run(key: current.key, reasons: [.neverRun], neverRun: true))
        XCTAssertEqual(planner(lastScale: 1).decide("s", parts: current),
                       .run(key: current.key, reasons: [.paramChanged(path: "scale", old: "1.0", new: "2.0")], neverRun: false))
        XCTAssertEqual(planner(lastScale: 2, cachedKeys: [current.key: .incomplete]).decide("s", parts: current),
                       .run(key: current.key, reasons: [.outputsMissing], neverRun: false))
    }

    func testAnUnreadableRunRecordIsNamedAsTheReason() {
        let current = parts(scale: 2)
        XCTAssertEqual(planner(lastScale: 2, cachedKeys: [current.key: .unreadable("the run record x.json is corrupt")]).decide("s", parts: current),
                       .run(key: current.key, reasons: [.recordUnreadable("the run record x.json is corrupt")], neverRun: false))
    }

    func testAForcedStageRunsAndStillSaysWhatChanged() {
        let current = parts(scale: 2)
        XCTAssertEqual(planner(lastScale: 1, forced: ["s"], cachedKeys: [current.key: .complete]).decide("s", parts: current),
                       .run(key: current.key, reasons: [.forced, .paramChanged(path: "scale", old: "1.0", new: "2.0")], neverRun: false))
        XCTAssertEqual(planner(lastScale: 2, forced: ["s"], cachedKeys: [current.key: .complete]).decide("s", parts: current),
                       .run(key: current.key, reasons: [.forced], neverRun: false))
        XCTAssertEqual(planner(lastScale: nil, forced: ["s"]).decideWaiting("s", upstream: "u", partsWithoutInputs: nil),
                       .waits(reasons: [.forced, .upstreamWillRun("u")], neverRun: true))
    }
}

/// Runs nothing: each job "produces" a file naming the stage and its inputs, and fails for the
/// stages it is told to fail. Records when each job starts and ends, in order.
private final class FakeExecutor: StageExecutor, @unchecked Sendable {
    let cache: Cache
    let failing: Set<String>
    private let mutex = NSLock()
    private(set) var events: [String] = []

    init(cache: Cache, failing: Set<String>) { self.cache = cache; self.failing = failing }

    func note(_ event: String) { mutex.withLock { events.append(event) } }

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        note("start \(job.stage.name)")
        defer { note("end \(job.stage.name)") }
        if failing.contains(job.stage.name) { throw StageError("told to fail") }
        let folder = cache.root.appendingPathComponent("fake/\(job.key)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data("\(job.stage.name) \(job.inputs.mapValues(\.id).sorted { $0.key < $1.key })".utf8)
            .write(to: folder.appendingPathComponent("metrics.json"))
        return StageProduct(outputs: ["metrics": try ArtifactTree.ingest(folder: folder, store: cache.objects, threads: 1)])
    }
}

/// Collects the reasons each stage was started with.
private final class ReasonsObserver: RunObserver, @unchecked Sendable {
    private let mutex = NSLock()
    private(set) var reasons: [String: [StaleReason]] = [:]
    func started(_ stage: String, reasons: [StaleReason]) { mutex.withLock { self.reasons[stage] = reasons } }
    func progress(_ stage: String, fraction: Double?, message: String) {}
    func log(_ stage: String, _ line: String) {}
    func warning(_ stage: String, _ message: String) {}
    func intermediate(_ stage: String, name: String, step: Int, value: Double) {}
    func finished(_ stage: String, _ outcome: StageOutcome) {}
}

/// The scheduler's readiness, skip and keep-going rules, in-process, against a fake executor.
final class SchedulerRuleTests: XCTestCase {
    var root: URL!

    override func setUpWithError() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-scheduler-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    override func tearDown() { FileSystem.removeTree(root) }

    /// a -> b -> d, a -> c, and e alone.
    func manifest(scale: Double = 1.5) throws -> Manifest {
        func stage(_ name: String, after upstream: String?) -> String {
            "  \(name):\n    uses: byte-count\n    with: {scale: \(scale), label: \(name)}\n" + (upstream.map { "    inputs: {data: \($0).metrics}\n" } ?? "")
        }
        let text = "version: 1\nname: t\nstages:\n" + stage("a", after: nil) + stage("b", after: "a") + stage("c", after: "a")
            + stage("d", after: "b") + stage("e", after: nil)
        try Data(text.utf8).write(to: root.appendingPathComponent("m.yaml"))
        let loader = ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ByteCountStage.self)]), workspace: root)
        return try loader.load(root.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
    }

    func run(failing: Set<String> = [], keepGoing: Bool = false, jobs: Int = 4, force: Set<String> = [],
             observer: any RunObserver = SilentObserver()) async throws -> (RunSummary, [String]) {
        let cache = Cache(root: root.appendingPathComponent("cache"))
        var options = RunOptions()
        options.keepGoing = keepGoing
        options.jobs = jobs
        options.force = force
        let executor = FakeExecutor(cache: cache, failing: failing)
        let runner = try PipelineRunner(manifest: manifest(), cache: cache, observer: observer, options: options, executor: executor)
        return (await runner.run(), executor.events)
    }

    func outcomes(_ summary: RunSummary) -> [String: String] {
        Dictionary(uniqueKeysWithValues: summary.reports.map { report -> (String, String) in
            if case .skipped(let because) = report.outcome { return (report.stage, "skipped: \(because)") }
            return (report.stage, report.outcome.label)
        })
    }

    func testAStageStartsOnlyAfterEveryInputHasEnded() async throws {
        let (summary, events) = try await run()
        XCTAssertEqual(Set(summary.reports.map(\.outcome.label)), ["ran"])
        for (stage, upstream) in [("b", "a"), ("c", "a"), ("d", "b")] {
            let start = try XCTUnwrap(events.firstIndex(of: "start \(stage)"))
            let end = try XCTUnwrap(events.firstIndex(of: "end \(upstream)"))
            XCTAssertLessThan(end, start, "\(stage) waits for \(upstream): \(events)")
        }
        let (again, none) = try await run()
        XCTAssertEqual(Set(again.reports.map(\.outcome.label)), ["cached"])
        XCTAssertEqual(none, [], "nothing runs when everything is fresh")
    }

    func testAFailureStopsNewLaunchesAndSkipsItsDependents() async throws {
        let (summary, _) = try await run(failing: ["b"], jobs: 1)
        XCTAssertEqual(outcomes(summary), ["a": "ran", "b": "failed", "c": "skipped: an earlier stage failed",
                                           "d": "skipped: b did not succeed", "e": "skipped: an earlier stage failed"])
    }

    func testKeepGoingRunsEveryBranchThatDoesNotDependOnTheFailure() async throws {
        let (summary, _) = try await run(failing: ["b"], keepGoing: true, jobs: 1)
        XCTAssertEqual(outcomes(summary), ["a": "ran", "b": "failed", "c": "ran", "d": "skipped: b did not succeed", "e": "ran"])
    }

    func testStatusAndRunGiveAForcedStageTheSameReasons() async throws {
        _ = try await run()
        // Change a parameter for every stage and force c: status and the run must say the same.
        let changed = try manifest(scale: 3.5)
        let cache = Cache(root: root.appendingPathComponent("cache"))
        var options = RunOptions()
        options.force = ["c"]
        let status = try PipelineRunner(manifest: changed, cache: cache, observer: SilentObserver(), options: options).status()
        let observer = ReasonsObserver()
        let runner = try PipelineRunner(manifest: changed, cache: cache, observer: observer, options: options,
                                        executor: FakeExecutor(cache: cache, failing: []))
        _ = await runner.run()
        let statusReasons = status.first { $0.stage == "c" }?.reasons
        XCTAssertEqual(statusReasons?.first, .forced)
        XCTAssertEqual(statusReasons?.contains(.paramChanged(path: "scale", old: "1.5", new: "3.5")), true, "\(statusReasons ?? [])")
        XCTAssertEqual(observer.reasons["a"], status.first { $0.stage == "a" }?.reasons)
        // When c starts, a has run and, the fake's output not depending on scale, produced the same
        // artifact (early cutoff): the run knows what status could not.
        XCTAssertEqual(observer.reasons["c"], [.forced, .paramChanged(path: "scale", old: "1.5", new: "3.5")])
    }
}
