/// TPE's division of the trials into the good ("below") and the rest ("above"), as Optuna's
/// `_split_trials` makes it for one objective.
///
/// The `count` best places go first to complete trials by value, then to pruned trials (the
/// furthest step first, then the better value there; a NaN value or no value at all ranks last),
/// then to refused trials (Optuna's infeasible trials). Running trials are always above
/// (Optuna's constant liar). Both sides come back in trial-number order.
struct TPESplit {
    var below: [TrialRecord] = []
    var above: [TrialRecord] = []

    /// `trials` are the modelled trials (complete with a value, pruned, refused, running).
    init(_ trials: [TrialRecord], count: Int, direction: Direction) {
        let byNumber = trials.sorted { $0.number < $1.number }
        let sign = direction == .minimize ? 1.0 : -1.0
        let complete = byNumber.filter { $0.state == .complete }
            .map { (trial: $0, key: (0, sign * $0.value!)) }
        let pruned = byNumber.filter { $0.state == .pruned }
            .map { (trial: $0, key: Self.prunedKey($0, sign: sign)) }
        var remaining = count
        for group in [complete, pruned] {
            // A stable sort: equal keys keep trial-number order, as Python's sort does.
            let ranked = group.enumerated().sorted { a, b in
                a.element.key != b.element.key ? a.element.key < b.element.key : a.offset < b.offset
            }.map(\.element.trial)
            below += ranked.prefix(remaining)
            above += ranked.dropFirst(remaining)
            remaining = max(0, remaining - ranked.count)
        }
        let refused = byNumber.filter { $0.state == .refused }
        below += refused.prefix(remaining)
        above += refused.dropFirst(remaining) + byNumber.filter { $0.state == .running }
        below.sort { $0.number < $1.number }
        above.sort { $0.number < $1.number }
    }

    /// Optuna's `_get_pruned_trial_score`: (-last step, signed last value), NaN as +inf, and
    /// (1, 0) without a curve.
    private static func prunedKey(_ trial: TrialRecord, sign: Double) -> (Int, Double) {
        guard let last = trial.lastIntermediate else { return (1, 0) }
        return (-last.step, last.value.isNaN ? .infinity : sign * last.value)
    }
}
