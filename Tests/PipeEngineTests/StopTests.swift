import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// A built-in stage that learns for 20 s unless stopped: it reports `val.loss` every 10 ms and
/// checks for cancellation, like `train` at each evaluation.
struct EndlessLearnerStage: Stage {
    struct Params: Parameters { init() {} }
    static let name = "endless-learner"
    static let version = 1
    static let summary = "Reports a falling loss until stopped"
    static let inputs: [StagePort] = []
    static let outputs = [StagePort("metrics", .metrics)]
    init() {}
    func run(_ p: Params, _ context: StageContext) async throws {
        for step in 1...2000 {
            try context.checkCancellation()
            context.report("val.loss", step: step, value: 10 / Double(step))
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        try Data("{}".utf8).write(to: try context.output("metrics").appendingPathComponent("metrics.json"))
    }
}

/// Stops the stage it watches once it has reported `after` points.
private final class StoppingObserver: RunObserver, @unchecked Sendable {
    let after: Int
    var runner: PipelineRunner?
    init(after: Int) { self.after = after }
    func started(_ stage: String, reasons: [StaleReason]) {}
    func progress(_ stage: String, fraction: Double?, message: String) {}
    func log(_ stage: String, _ line: String) {}
    func warning(_ stage: String, _ message: String) {}
    func intermediate(_ stage: String, name: String, step: Int, value: Double) {
        if step == after { runner?.stop(stage, reason: "pruned at step \(step)") }
    }
    func finished(_ stage: String, _ outcome: StageOutcome) {}
}

/// One running stage stopped early (a sweep's pruner): recorded as stopped with its reason and
/// partial curve, nothing cached, dependents skipped, the run not failed.
final class StopTests: XCTestCase {
    func testAStoppedStageKeepsItsPartialCurveAndIsNotCached() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-stop-\(UUID().uuidString)")
        defer { FileSystem.removeTree(root) }
        try FileManager.default.createDirectory(at: root.appendingPathComponent("plugin"), withIntermediateDirectories: true)
        try Data("""
        name: endless
        version: 1
        run: [sh, run.sh]
        outputs: {documents: {kind: documents}}
        """.utf8).write(to: root.appendingPathComponent("plugin/stage.yaml"))
        try Data("i=0\nwhile [ $i -lt 200 ]; do i=$((i+1)); echo \"::metric val.loss $i step=$i\"; sleep 0.05; done\n".utf8)
            .write(to: root.appendingPathComponent("plugin/run.sh"))
        try Data("""
        version: 1
        name: stop
        stages:
          learn: {uses: endless-learner}
          after: {uses: byte-count, inputs: {data: learn.metrics}}
          plugin: {uses: ./plugin}
        """.utf8).write(to: root.appendingPathComponent("m.yaml"))
        let registry = StageRegistry([StageDescriptor(builtin: EndlessLearnerStage.self), StageDescriptor(builtin: ByteCountStage.self)])
        let manifest = try ManifestLoader(registry: registry, workspace: root).load(root.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
        let cache = Cache(root: root.appendingPathComponent("cache"))
        let observer = StoppingObserver(after: 3)
        let runner = try PipelineRunner(manifest: manifest, cache: cache, observer: observer, options: RunOptions())
        observer.runner = runner
        let started = Date()
        let summary = await runner.run()
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "both stages stop early")

        let reports = Dictionary(uniqueKeysWithValues: summary.reports.map { ($0.stage, $0) })
        for stage in ["learn", "plugin"] {
            guard case .stopped(let reason)? = reports[stage]?.outcome else { return XCTFail("\(stage): \(String(describing: reports[stage]?.outcome))") }
            XCTAssertEqual(reason, "pruned at step 3")
            XCTAssertEqual(reports[stage]?.curves["val.loss"]?.prefix(3).map(\.step), [1, 2, 3], stage)
        }
        guard case .skipped? = reports["after"]?.outcome else { return XCTFail("the dependent of a stopped stage is skipped") }
        XCTAssertFalse(summary.failed)
        XCTAssertFalse(summary.interrupted)
        XCTAssertEqual(cache.runs.allKeys(), [], "nothing of a stopped stage is cached")
        XCTAssertFalse(runner.stop("learn", reason: "again"), "a stage that is not running cannot be stopped")
    }
}
