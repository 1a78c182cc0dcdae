import PipeKit
@testable import Sweep
import XCTest

/// `sweep.sampler` and `sweep.prune` build the named kinds with their settings; mistakes name the field.
final class SweepFactoryTests: XCTestCase {
    let space = try! SearchSpace(parsing: ["vocab": ["kind": "grid", "values": [1, 2]], "lr": ["kind": "uniform", "low": 0, "high": 1]],
                                 path: "sweep.space")

    func sampler(_ value: JSONValue) throws -> any Sampler {
        try SweepFactory.sampler(parsing: value, path: "sweep.sampler", space: space, direction: .maximize)
    }

    func message(_ body: () throws -> Any) -> String {
        do {
            _ = try body()
            return "no error"
        } catch { return "\(error)" }
    }

    func testBuildsEachSamplerWithItsSettings() throws {
        let tpe = try XCTUnwrap(try sampler(["kind": "tpe", "seed": 1, "startup_trials": 4, "candidates": 8, "multivariate": false]) as? TPESampler)
        XCTAssertEqual([tpe.seed, UInt64(tpe.startupTrials), UInt64(tpe.candidates)], [1, 4, 8])
        XCTAssertEqual(tpe.direction, .maximize)
        XCTAssertFalse(tpe.multivariate)
        let defaults = try XCTUnwrap(try sampler(["kind": "tpe"]) as? TPESampler)
        XCTAssertEqual([defaults.seed, UInt64(defaults.startupTrials), UInt64(defaults.candidates)], [0, 10, 24])
        XCTAssertTrue(defaults.multivariate)
        XCTAssertEqual((try sampler(["kind": "random", "seed": -1]) as? RandomSampler)?.seed, UInt64.max)
        XCTAssertEqual(message { try self.sampler(["kind": "grid"]) },
                       "sweep.sampler: a grid sweep enumerates only grid and choice dimensions; lr is uniform")
    }

    func testSamplerMistakesNameTheField() {
        XCTAssertEqual(message { try self.sampler(["kind": "tpe", "seed": "one"]) }, #"sweep.sampler.seed: expected an integer, found "one""#)
        XCTAssertEqual(message { try self.sampler(["kind": "tpe", "startup_trials": -1]) },
                       "sweep.sampler.startup_trials: must be an integer of at least 0, found -1")
        XCTAssertEqual(message { try self.sampler(["kind": "tpe", "startup": 3]) },
                       "sweep.sampler.startup: unknown field (known: candidates, kind, multivariate, seed, startup_trials)")
        XCTAssertEqual(message { try self.sampler(["kind": "cmaes"]) }, "sweep.sampler.kind: unknown kind 'cmaes' (known: grid, random, tpe)")
        XCTAssertEqual(message { try self.sampler(["seed": 1]) }, "sweep.sampler.kind: missing (grid, random, tpe)")
        XCTAssertEqual(message { try self.sampler("tpe") }, "sweep.sampler: expected a mapping, found string")
    }

    func testBuildsEachPrunerAndNamesMistakes() throws {
        let median = try XCTUnwrap(try SweepFactory.pruner(parsing: ["kind": "median", "startup_trials": 2, "warmup_steps": 3, "interval_steps": 4],
                                                           path: "sweep.prune") as? MedianPruner)
        XCTAssertEqual([median.startupTrials, median.warmupSteps, median.intervalSteps], [2, 3, 4])
        let asha = try XCTUnwrap(try SweepFactory.pruner(parsing: ["kind": "asha", "min_resource": 100], path: "sweep.prune") as? ASHAPruner)
        XCTAssertEqual([asha.minResource, asha.reductionFactor, asha.minEarlyStoppingRate], [100, 3, 0])
        XCTAssertEqual(message { try SweepFactory.pruner(parsing: ["kind": "asha", "reduction_factor": 1], path: "sweep.prune") },
                       "sweep.prune.reduction_factor: must be an integer of at least 2, found 1")
        XCTAssertEqual(message { try SweepFactory.pruner(parsing: ["kind": "hyperband"], path: "sweep.prune") },
                       "sweep.prune.kind: unknown kind 'hyperband' (known: median, asha)")
    }
}
