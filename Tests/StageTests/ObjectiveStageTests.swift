import Foundation
import ObjectiveStage
@testable import PipeEngine
import PipeKit
import XCTest

final class ObjectiveStageTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-objective-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func manifest(_ with: String) throws -> Manifest {
        let url = folder.appendingPathComponent("m.yaml")
        try Data("version: 1\nname: t\nstages:\n  objective:\n    uses: objective\n    with:\n\(with)".utf8).write(to: url)
        let loader = ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ObjectiveStage.self)]), workspace: folder)
        return try loader.load(url, displayPath: "m.yaml")
    }

    func problems(_ with: String) -> [String] {
        do {
            _ = try manifest(with)
            return []
        } catch let error as ManifestError {
            return error.diagnostics.map(\.description)
        } catch { return ["\(error)"] }
    }

    func testUnknownMetricAndImpossibleTargetsAreLocated() {
        XCTAssertEqual(problems("""
              targets:
                test.perplexity: {max: 0.5}
                test.accuracy: {min: 0.5}
                val.top1: {min: 0.9, max: 0.1}
                task.qa.accuracy: {min: 2}
              languages: [en, English]

        """).sorted(), [
            "m.yaml:10:19: error: parameter 'targets.val.top1': min 0.9 is above max 0.1: no value can meet it",
            "m.yaml:11:33: error: parameter 'targets.task.qa.accuracy.min': task.qa.accuracy is never above 1.0, so min 2.0 cannot be met",
            "m.yaml:12:18: error: parameter 'languages.1': 'English' is not an ISO 639 code such as en, de or zh",
            "m.yaml:8:32: error: parameter 'targets.test.perplexity.max': test.perplexity is never below 1.0, so max 0.5 cannot be met",
            "m.yaml:9:24: error: parameter 'targets.test.accuracy': unknown metric 'accuracy' (known: loss, perplexity, bits_per_byte, top1, top5)",
        ])
    }

    func testClassificationMetricsAreTargetsTheObjectiveAccepts() {
        XCTAssertEqual(problems("""
              targets:
                task.fortunes.macro_f1: {min: 0.5}
                task.fortunes.acc_norm: {min: 0.5}
                task.fortunes.f1.food: {min: 0.4}
                task.fortunes.recall.law: {min: 2}
                task.fortunes.support.law: {min: 1}

        """).sorted(), [
            "m.yaml:11:41: error: parameter 'targets.task.fortunes.recall.law.min': task.fortunes.recall.law is never above 1.0, so min 2.0 cannot be met",
            "m.yaml:12:36: error: parameter 'targets.task.fortunes.support.law': unknown per-class task metric 'support' (known: f1, precision, recall)",
        ])
    }

    func testOneArtifactPerConcernSoEditingATargetChangesOnlyTargets() async throws {
        let cache = Cache(root: folder.appendingPathComponent("cache"))
        func run(_ with: String) async throws -> RunRecord {
            let m = try manifest(with)
            let summary = try await PipelineRunner(manifest: m, cache: cache, observer: SilentObserver(), options: RunOptions()).run()
            return try XCTUnwrap(cache.runs.load(XCTUnwrap(summary.reports[0].key)))
        }
        let a = try await run("      targets: {test.bits_per_byte: {max: 2.5}}\n      budget: {max_parameters: 3000000}\n")
        let b = try await run("      targets: {test.bits_per_byte: {max: 2.0}}\n      budget: {max_parameters: 3000000}\n")
        XCTAssertNotEqual(a.outputs["targets"]!.id, b.outputs["targets"]!.id)
        XCTAssertEqual(a.outputs["budget"]!.id, b.outputs["budget"]!.id)
        XCTAssertEqual(a.outputs["languages"]!.id, b.outputs["languages"]!.id)
        let targets = try StoredArtifact(tree: b.outputs["targets"]!, store: cache.objects).read("targets.json")
        let parsed = try JSONValue.parse(targets)
        XCTAssertEqual(parsed["gate"], .string("fail"))
        XCTAssertEqual(parsed["targets"]?["test.bits_per_byte"]?["max"]?.doubleValue, 2)
    }
}
