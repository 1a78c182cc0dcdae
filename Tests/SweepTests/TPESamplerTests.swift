import PipeKit
@testable import Sweep
import SweepObjectives
import XCTest

/// TPE follows Optuna's estimator, depends only on (seed, number, history), and beats random
/// search on standard functions.
final class TPESamplerTests: XCTestCase {
    /// Log densities from Optuna 5.0's `_ParzenEstimator` (prior weight 1, magic clip, no
    /// endpoints, default weights) on the same observations: tests-python/tpe_reference.py.
    func testTheParzenEstimatorMatchesOptunas() throws {
        let space = try SearchSpace(parsing: [
            "a": ["kind": "uniform", "low": -5, "high": 10],
            "b": ["kind": "log_uniform", "low": 1e-4, "high": 1],
            "c": ["kind": "int", "low": 1, "high": 9, "step": 2],
            "d": ["kind": "int", "low": 1, "high": 64, "log": true],
            "e": ["kind": "choice", "values": ["x", "y", "z"]],
        ], path: "sweep.space")
        let estimator = ParzenEstimator(observations: [
            [0.5, 1e-3, 3, 2, 0], [-4, 0.5, 9, 64, 2], [9, 0.02, 1, 7, 2], [2, 1e-4, 5, 30, 1],
        ], dimensions: space.dimensions)
        let expected = [-9.12170438517844, -14.38901191069389, -12.92960567438807]
        let points: [[Double]] = [[0, 0.01, 3, 1, 2], [9.9, 0.9, 7, 33, 0], [-5, 2e-4, 9, 64, 1]]
        for (point, logDensity) in zip(points, expected) {
            XCTAssertEqual(estimator.logDensity(point), logDensity, accuracy: 1e-9)
        }
        // 30 observations: the oldest five have ramped weights.
        let ramped = ParzenEstimator(observations: (0..<30).map { [-4.9 + 14.8 * Double($0) / 29] }, dimensions: [space["a"]!])
        for (x, logDensity) in zip([0, 9.95, -5], [-2.645795049277095, -2.6664905985499576, -4.681112496909071]) {
            XCTAssertEqual(ramped.logDensity([x]), logDensity, accuracy: 1e-9)
        }
    }

    func testFarTailsKeepTheirOrder() {
        XCTAssertEqual(TruncatedNormal.logMass(40, 41), -804.6084, accuracy: 1e-3)
        XCTAssertGreaterThan(TruncatedNormal.logMass(40, 41), TruncatedNormal.logMass(41, 42))
        XCTAssertEqual(TruncatedNormal.logMass(-41, -40), TruncatedNormal.logMass(40, 41), accuracy: 1e-9)
        XCTAssertEqual(TruncatedNormal.logMass(-1, 1), log(0.682689492137086), accuracy: 1e-12)
    }

    func testGammaAndWeightsAreOptunasDefaults() {
        XCTAssertEqual([1, 10, 11, 100, 249, 251, 1000].map(TPESampler.gamma), [1, 1, 2, 10, 25, 25, 25])
        XCTAssertEqual(ParzenEstimator.observationWeights(3), [1, 1, 1])
        let weights = ParzenEstimator.observationWeights(30)
        XCTAssertEqual(weights.count, 30)
        XCTAssertEqual(weights[0], 1.0 / 30, accuracy: 1e-15)
        XCTAssertEqual(weights[4], 1, accuracy: 1e-15)
        XCTAssertEqual(weights[2], (1.0 / 30 + 1) / 2, accuracy: 1e-15)
    }

    func testTheSplitRanksCompleteThenPrunedThenRefusedAndRunningIsAbove() {
        func trial(_ n: Int, _ state: TrialState, _ value: Double? = nil, _ curve: [(Int, Double)] = []) -> TrialRecord {
            TrialRecord(number: n, params: [:], state: state, value: value,
                        intermediate: curve.map { IntermediateValue(step: $0.0, value: $0.1) })
        }
        let trials = [
            trial(0, .complete, 3), trial(1, .complete, 1), trial(2, .pruned, nil, [(1, 0.1), (5, 0.9)]),
            trial(3, .pruned, nil, [(1, 0.05)]), trial(4, .pruned, nil, [(5, 0.5)]), trial(5, .refused),
            trial(6, .running), trial(7, .pruned, nil, [(5, .nan)]),
        ]
        let numbers = { (count: Int, direction: Direction) -> [Int] in TPESplit(trials, count: count, direction: direction).below.map(\.number) }
        XCTAssertEqual(numbers(1, .minimize), [1])
        XCTAssertEqual(numbers(1, .maximize), [0])
        // Among pruned trials the furthest step wins first, then the better value there, NaN last.
        XCTAssertEqual(numbers(3, .minimize), [0, 1, 4])
        XCTAssertEqual(numbers(4, .minimize), [0, 1, 2, 4])
        XCTAssertEqual(numbers(5, .minimize), [0, 1, 2, 4, 7])
        XCTAssertEqual(numbers(7, .minimize), [0, 1, 2, 3, 4, 5, 7])
        XCTAssertEqual(numbers(8, .minimize), [0, 1, 2, 3, 4, 5, 7])
        XCTAssertEqual(TPESplit(trials, count: 8, direction: .minimize).above.map(\.number), [6])
    }

    func testSuggestionsDependOnlyOnSeedNumberAndHistory() throws {
        let space = try SearchSpace(parsing: RandomAndGridSamplerTests.mixed, path: "sweep.space")
        let sampler = TPESampler(space: space, direction: .minimize, seed: 11, startupTrials: 5)
        var history: [TrialRecord] = []
        for number in 0..<30 {
            let params = try XCTUnwrap(sampler.suggest(number: number, history: history))
            RandomAndGridSamplerTests.assertInSpace(params, space)
            let value = params["lr"]!.doubleValue! * Double(params["width"]!.intValue!)
            let state: TrialState = number % 7 == 3 ? .failed : number % 5 == 4 ? .pruned : .complete
            history.append(TrialRecord(number: number, params: params, state: state, value: value,
                                       intermediate: [IntermediateValue(step: 1, value: value)]))
        }
        // The history's order, the asking trial's own record and failed trials change nothing.
        let asked = sampler.suggest(number: 30, history: history)
        XCTAssertEqual(sampler.suggest(number: 30, history: history.reversed()), asked)
        XCTAssertEqual(sampler.suggest(number: 30, history: history + [TrialRecord(number: 30, params: asked!, state: .running)]), asked)
        XCTAssertEqual(sampler.suggest(number: 30, history: history.filter { $0.state != .failed }), asked)
        XCTAssertEqual(TPESampler(space: space, direction: .minimize, seed: 11, startupTrials: 5).suggest(number: 30, history: history), asked)
        XCTAssertNotEqual(TPESampler(space: space, direction: .minimize, seed: 12, startupTrials: 5).suggest(number: 30, history: history), asked)
        // Another seed changes the whole sequence, the startup trials included.
        XCTAssertNotEqual(TPESampler(space: space, direction: .minimize, seed: 12).suggest(number: 0, history: []),
                          sampler.suggest(number: 0, history: []))
    }

    /// Mean best value after 50 trials over five seeds: deterministic, so it cannot flake.
    func testTPEFindsBetterValuesThanRandomSearch() throws {
        for objective in Objective.all {
            let space = try SearchSpace(parsing: objective.space, path: "sweep.space")
            func meanBest(_ make: (UInt64) -> any Sampler) -> Double {
                let seeds: [UInt64] = [0, 1, 2, 3, 4]
                return seeds.map { Objective.bestSoFar(objective.study(make($0), trials: 50)).last! }.reduce(0, +) / Double(seeds.count)
            }
            let tpe = meanBest { TPESampler(space: space, direction: .minimize, seed: $0) }
            let random = meanBest { RandomSampler(space: space, seed: $0) }
            XCTAssertLessThan(tpe - objective.minimum, 0.6 * (random - objective.minimum), "\(objective.name): TPE \(tpe), random \(random)")
        }
    }

    func testMaximizingFollowsTheLargerValues() throws {
        let space = try SearchSpace(parsing: ["x": ["kind": "uniform", "low": 0, "high": 1]], path: "sweep.space")
        let sampler = TPESampler(space: space, direction: .maximize, seed: 5)
        var history: [TrialRecord] = []
        for number in 0..<40 {
            let params = sampler.suggest(number: number, history: history)!
            history.append(TrialRecord(number: number, params: params, state: .complete, value: params["x"]!.doubleValue!))
        }
        let late = history.suffix(20).map(\.value!).reduce(0, +) / 20
        XCTAssertGreaterThan(late, 0.75)
    }
}
