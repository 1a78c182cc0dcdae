import Foundation
import XCTest

/// A short run of every fuzz target without libFuzzer (the seed corpus plus seeded mutations),
/// so each reader's hostile-input handling is exercised on every CI run. `fuzz/run` fuzzes for real.
final class FuzzSmokeTests: XCTestCase {
    /// Mutations per target: fewer where one input runs a whole stage or loads a manifest.
    static let runs = ["manifest": 150, "warc": 150, "gzip": 150, "zstd": 150, "collect-jsonl": 150, "chat-template": 300]
    static let defaultRuns = 2000

    func testEveryTargetSurvivesItsSeedsAndMutations() throws {
        let fuzzer = Workspace.binary.deletingLastPathComponent().appendingPathComponent("pipe-fuzz")
        let seeds = Workspace.repository.appendingPathComponent("fuzz/seeds")
        let targets = try FileManager.default.contentsOfDirectory(atPath: seeds.path).sorted()
        XCTAssertEqual(targets.count, 13, "a seed folder per target: \(targets)")
        for target in targets {
            let runs = Self.runs[target] ?? Self.defaultRuns
            let result = try Workspace.execute(fuzzer.path, [target, "--runs", "\(runs)", "--seed", "7",
                                                             seeds.appendingPathComponent(target).path], in: seeds)
            XCTAssertEqual(result.status, 0, "\(target): \(result.output.suffix(2000))")
            XCTAssertTrue(result.output.contains("\(runs) mutations"), result.output)
        }
    }
}
