/// Optuna's `MedianPruner`: stops a trial whose best value so far is worse than the median of
/// the complete trials' values at the same step.
///
/// No decision before `startupTrials` trials are complete, before step `warmupSteps`, or at a
/// step that is not the first the trial reported in its interval (steps counted from
/// `warmupSteps` in `intervalSteps`). A trial whose values so far are all NaN is pruned; when no
/// complete trial reported this step (or all of theirs are NaN) it continues. The median is
/// NumPy's (the mean of the two middle values for an even count).
public struct MedianPruner: Pruner {
    public let startupTrials: Int
    public let warmupSteps: Int
    public let intervalSteps: Int

    public init(startupTrials: Int = 5, warmupSteps: Int = 0, intervalSteps: Int = 1) {
        self.startupTrials = max(0, startupTrials)
        self.warmupSteps = max(0, warmupSteps)
        self.intervalSteps = max(1, intervalSteps)
    }

    public func shouldPrune(trial: TrialRecord, step: Int, others: [TrialRecord], direction: Direction) -> Bool {
        let complete = others.filter { $0.state == .complete && $0.number != trial.number }
        guard !complete.isEmpty, complete.count >= startupTrials, step >= warmupSteps else { return false }
        let curve = trial.curve(through: step)
        let nearestPruningStep = (step - warmupSteps) / intervalSteps * intervalSteps + warmupSteps
        let previousStep = curve.map(\.step).filter { $0 != step }.max() ?? -1
        guard previousStep < nearestPruningStep else { return false }

        let values = curve.map(\.value).filter { !$0.isNaN }
        guard let best = direction == .minimize ? values.min() : values.max() else { return true }
        let atStep = complete.compactMap { $0.intermediateValue(at: step) }.filter { !$0.isNaN }
        guard let median = Self.median(atStep) else { return false }
        return direction.isBetter(median, than: best)
    }

    /// The median of the values, the mean of the two middle ones for an even count.
    static func median(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        let sorted = values.sorted(), middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
}
