/// Asynchronous successive halving, as Optuna's `SuccessiveHalvingPruner` decides it.
///
/// Rung k sits at step `minResource · reductionFactor^(minEarlyStoppingRate + k)`. When a trial
/// first reports a step at or past a rung, that value is its value at the rung, and it goes on
/// only if the value is within the best 1/`reductionFactor` of the values recorded at that rung
/// so far (its own included; with fewer than `reductionFactor` values, only if it is the best).
/// A step that passes several rungs is checked at each in turn; a NaN value there is pruned.
///
/// Difference from Optuna, which stores each trial's rung values as it passes them: here they
/// are read off the other trials' curves (the value at the first reported step at or past the
/// rung), so the decision is a pure function of the records. The two agree whenever every report
/// was checked, except for a trial pruned at a step that passed several rungs, which Optuna
/// records only up to the rung that stopped it. A NaN among the others' rung values ranks worst.
public struct ASHAPruner: Pruner {
    public let minResource: Int
    public let reductionFactor: Int
    public let minEarlyStoppingRate: Int

    public init(minResource: Int = 1, reductionFactor: Int = 3, minEarlyStoppingRate: Int = 0) {
        self.minResource = max(1, minResource)
        self.reductionFactor = max(2, reductionFactor)
        self.minEarlyStoppingRate = max(0, minEarlyStoppingRate)
    }

    /// The step of rung `k`, or nil past Int's range.
    func rungStep(_ k: Int) -> Int? {
        var step = minResource
        for _ in 0..<(minEarlyStoppingRate + k) {
            let (next, overflow) = step.multipliedReportingOverflow(by: reductionFactor)
            if overflow { return nil }
            step = next
        }
        return step
    }

    public func shouldPrune(trial: TrialRecord, step: Int, others: [TrialRecord], direction: Direction) -> Bool {
        guard let value = trial.intermediateValue(at: step) else { return false }
        // Rungs passed at earlier reports were checked then.
        var rung = rungValues(trial.curve(through: step).filter { $0.step != step }).count
        let competitors = others.filter { $0.number != trial.number }.map { rungValues($0.intermediate) }
        while let rungStep = rungStep(rung), step >= rungStep {
            if value.isNaN { return true }
            let recorded = competitors.compactMap { $0.count > rung ? $0[rung] : nil }
            if !isPromotable(value, among: recorded + [value], direction: direction) { return true }
            rung += 1
        }
        return false
    }

    /// A curve's values at the rungs it reached, rung 0 first.
    func rungValues(_ curve: [IntermediateValue]) -> [Double] {
        var values: [Double] = []
        for point in curve.sorted(by: { $0.step < $1.step }) {
            while let rungStep = rungStep(values.count), point.step >= rungStep { values.append(point.value) }
        }
        return values
    }

    /// Optuna's `_is_trial_promotable_to_next_rung`.
    private func isPromotable(_ value: Double, among values: [Double], direction: Direction) -> Bool {
        let index = max(values.count / reductionFactor - 1, 0)
        let worstLast = values.sorted { a, b in a.isNaN ? false : b.isNaN ? true : direction.isBetter(a, than: b) }
        let threshold = worstLast[index]
        return threshold.isNaN || !direction.isBetter(threshold, than: value)
    }
}
