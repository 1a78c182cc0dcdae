@testable import Sweep
import XCTest

/// Median and ASHA decisions on hand-computed cases, and where Optuna's pruners stop the same
/// synthetic curves (tests-python/sweep_reference.py).
final class PrunerTests: XCTestCase {
    func trial(_ number: Int, _ state: TrialState, _ curve: [(Int, Double)]) -> TrialRecord {
        TrialRecord(number: number, params: [:], state: state, value: curve.last?.1,
                    intermediate: curve.map { IntermediateValue(step: $0.0, value: $0.1) })
    }

    // MARK: median

    var completed: [TrialRecord] {
        [trial(0, .complete, [(1, 1.0), (2, 0.8)]), trial(1, .complete, [(1, 2.0), (2, 1.0)]),
         trial(2, .complete, [(1, 3.0), (2, 0.6)]),
         trial(3, .pruned, [(1, 0.1)]), trial(4, .running, [(1, 0.1)]), trial(5, .failed, [(1, 0.1)])]
    }

    func testMedianComparesTheBestSoFarWithTheCompleteTrialsMedianAtThatStep() {
        let pruner = MedianPruner(startupTrials: 3)
        func prunes(_ curve: [(Int, Double)], _ direction: Direction = .minimize, others: [TrialRecord]? = nil) -> Bool {
            pruner.shouldPrune(trial: trial(9, .running, curve), step: curve.last!.0, others: others ?? completed, direction: direction)
        }
        XCTAssertTrue(prunes([(1, 2.5)]))                       // median of 1, 2, 3 is 2
        XCTAssertFalse(prunes([(1, 2.0)]))
        XCTAssertFalse(prunes([(1, 2.5)], .maximize))
        XCTAssertTrue(prunes([(1, 1.5)], .maximize))
        XCTAssertTrue(prunes([(1, 1.5), (2, 0.9)]))             // best so far 0.9 > median 0.8
        XCTAssertFalse(prunes([(1, 0.7), (2, 0.9)]))            // best so far 0.7
        XCTAssertFalse(prunes([(1, 9), (3, 9)]))                // nobody complete reported step 3
        XCTAssertTrue(prunes([(1, .nan)]))
        let fourth = completed + [trial(6, .complete, [(1, 4.0)])]
        XCTAssertFalse(prunes([(1, 2.5)], others: fourth))      // median of 1, 2, 3, 4 is 2.5
        XCTAssertTrue(prunes([(1, 2.6)], others: fourth))
        let nanOnly = [trial(7, .complete, [(1, .nan)]), trial(8, .complete, [(1, .nan)]), trial(10, .complete, [(1, .nan)])]
        XCTAssertFalse(prunes([(1, 5)], others: nanOnly))
    }

    func testMedianWaitsForStartupTrialsWarmupAndTheIntervalsFirstStep() {
        let late = trial(9, .running, [(1, 9), (2, 9), (3, 9)])
        XCTAssertFalse(MedianPruner(startupTrials: 4).shouldPrune(trial: late, step: 1, others: completed, direction: .minimize))
        XCTAssertFalse(MedianPruner(startupTrials: 3, warmupSteps: 2).shouldPrune(trial: late, step: 1, others: completed, direction: .minimize))
        XCTAssertTrue(MedianPruner(startupTrials: 3, warmupSteps: 2).shouldPrune(trial: late, step: 2, others: completed, direction: .minimize))
        let everyOther = MedianPruner(startupTrials: 3, intervalSteps: 2)
        XCTAssertTrue(everyOther.shouldPrune(trial: late, step: 1, others: completed, direction: .minimize))
        XCTAssertTrue(everyOther.shouldPrune(trial: late, step: 2, others: completed, direction: .minimize))
        // Step 3 shares step 2's interval, which was already checked.
        let atThree = completed.map { var t = $0; t.intermediate.append(IntermediateValue(step: 3, value: 0.5)); return t }
        XCTAssertFalse(everyOther.shouldPrune(trial: late, step: 3, others: atThree, direction: .minimize))
        XCTAssertFalse(MedianPruner().shouldPrune(trial: late, step: 1, others: [], direction: .minimize))
    }

    // MARK: ASHA

    /// Rungs at steps 1, 3, 9: A reached all three, B two, C one.
    var rungs: [TrialRecord] {
        [trial(0, .complete, [(1, 5), (2, 4.5), (3, 4), (9, 3)]), trial(1, .pruned, [(1, 6), (3, 2)]),
         trial(2, .pruned, [(1, 7)])]
    }

    func testASHAKeepsTheTopThirdAtEachRung() {
        let pruner = ASHAPruner(minResource: 1, reductionFactor: 3)
        func prunes(_ curve: [(Int, Double)], _ direction: Direction = .minimize) -> Bool {
            pruner.shouldPrune(trial: trial(9, .running, curve), step: curve.last!.0, others: rungs, direction: direction)
        }
        XCTAssertEqual(pruner.rungValues(rungs[0].intermediate), [5, 4, 3])
        XCTAssertTrue(prunes([(1, 5.5)]))              // 4 values at rung 0: only the best goes on
        XCTAssertFalse(prunes([(1, 4.9)]))
        XCTAssertFalse(prunes([(1, 5)]))               // a tie with the best goes on
        XCTAssertTrue(prunes([(1, 6.5)], .maximize))
        XCTAssertFalse(prunes([(1, 7)], .maximize))
        XCTAssertFalse(prunes([(1, 4), (2, 99)]))      // step 2 is no rung
        XCTAssertTrue(prunes([(1, 4), (3, 3)]))        // rung 1 holds 4, 2 and now 3
        XCTAssertFalse(prunes([(1, 4), (3, 1)]))
        XCTAssertFalse(prunes([(3, 1)]))               // one report passing rungs 0 and 1
        XCTAssertTrue(prunes([(3, 4.5)]))              // passes rung 0 (4.5 < 5), not rung 1
        XCTAssertTrue(prunes([(1, .nan)]))
        XCTAssertFalse(prunes([(1, 4), (2, .nan)]))    // NaN between rungs is not checked
    }

    func testASHARungsStartAtTheEarlyStoppingRate() {
        let pruner = ASHAPruner(minResource: 2, reductionFactor: 2, minEarlyStoppingRate: 1)
        XCTAssertEqual([0, 1, 2].map(pruner.rungStep), [4, 8, 16])
        XCTAssertNil(ASHAPruner(minResource: 1 << 40, reductionFactor: 1 << 20).rungStep(2))
    }

    // MARK: against Optuna

    /// The synthetic curves of tests-python/sweep_reference.py.
    static func curveValue(_ trial: Int, _ step: Int) -> Double {
        let t = Double(trial), s = Double(step)
        return (1 + 0.3 * sin(t * 7.1)) * exp(-s / (5 + 3 * cos(t * 3.3))) + 0.05 * sin(t * 13 + s * 1.7)
    }

    /// Runs 12 trials one after another, each checked at every step; the step each stopped at.
    func prunedSteps(_ pruner: any Pruner, _ direction: Direction) -> [Int?] {
        let sign = direction == .minimize ? 1.0 : -1.0
        var records: [TrialRecord] = [], stops: [Int?] = []
        for number in 0..<12 {
            var record = TrialRecord(number: number, params: [:], state: .running)
            var stop: Int?
            for step in 1...30 {
                record.intermediate.append(IntermediateValue(step: step, value: sign * Self.curveValue(number, step)))
                if pruner.shouldPrune(trial: record, step: step, others: records, direction: direction) {
                    stop = step
                    break
                }
            }
            record.state = stop == nil ? .complete : .pruned
            record.value = stop == nil ? record.intermediate.last!.value : nil
            records.append(record)
            stops.append(stop)
        }
        return stops
    }

    func testPrunersStopWhereOptunasDo() {
        for direction in [Direction.minimize, .maximize] {
            XCTAssertEqual(prunedSteps(MedianPruner(startupTrials: 3, warmupSteps: 2, intervalSteps: 2), direction),
                           [nil, nil, nil, nil, 2, nil, 2, 2, 2, 2, 2, 2])
            XCTAssertEqual(prunedSteps(MedianPruner(startupTrials: 2, warmupSteps: 0, intervalSteps: 1), direction),
                           [nil, nil, 1, nil, 1, 6, 2, 2, 1, 1, 1, 1])
            XCTAssertEqual(prunedSteps(MedianPruner(startupTrials: 1, warmupSteps: 5, intervalSteps: 3), direction),
                           [nil, nil, 5, nil, 5, 17, 5, 5, 5, 5, 5, 5])
            XCTAssertEqual(prunedSteps(ASHAPruner(minResource: 1, reductionFactor: 3), direction),
                           [nil, nil, 1, 3, 1, 3, 3, 1, 1, 1, 1, 1])
            XCTAssertEqual(prunedSteps(ASHAPruner(minResource: 2, reductionFactor: 2, minEarlyStoppingRate: 1), direction),
                           [nil, nil, 4, 8, 4, nil, 4, nil, 4, 4, 4, 4])
        }
    }
}
