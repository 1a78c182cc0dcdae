/// Decides whether a running trial should stop after reporting `step`.
///
/// A pure decision over plain records: `trial` is the running trial with its curve so far (its
/// last reported step is `step`), `others` the other trials of the study in any state. The
/// answer depends on nothing else.
public protocol Pruner: Sendable {
    func shouldPrune(trial: TrialRecord, step: Int, others: [TrialRecord], direction: Direction) -> Bool
}

extension TrialRecord {
    /// The curve up to and including `step`: what the trial had reported when deciding there.
    func curve(through step: Int) -> [IntermediateValue] { intermediate.filter { $0.step <= step } }
}
