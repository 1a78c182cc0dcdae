import PipeKit

/// Where a trial stands, as the journal's fold says.
public enum TrialState: String, Sendable, Codable, CaseIterable {
    /// Finished with a final value.
    case complete
    /// Stopped early by the pruner; its curve so far is kept.
    case pruned
    /// A stage failed; samplers ignore it.
    case failed
    /// Not run because it broke a constraint (the objective's budget); samplers rank it last.
    case refused
    /// Started and not finished.
    case running
}

/// Whether the sweep's metric is better lower or higher.
public enum Direction: String, Sendable, Codable {
    case minimize
    case maximize

    /// Whether `a` is strictly better than `b`.
    public func isBetter(_ a: Double, than b: Double) -> Bool { self == .minimize ? a < b : a > b }
}

/// One value a running trial reported at a step (a validation loss at a training step).
public struct IntermediateValue: Sendable, Equatable {
    public var step: Int
    public var value: Double

    public init(step: Int, value: Double) {
        self.step = step
        self.value = value
    }
}

/// A trial as plain data: what samplers and pruners read, and all they read.
public struct TrialRecord: Sendable, Equatable {
    public var number: Int
    public var params: [String: JSONValue]
    public var state: TrialState
    /// The final metric of a complete trial.
    public var value: Double?
    /// The curve reported while it ran, in the order reported.
    public var intermediate: [IntermediateValue]

    public init(number: Int, params: [String: JSONValue], state: TrialState, value: Double? = nil,
                intermediate: [IntermediateValue] = []) {
        self.number = number
        self.params = params
        self.state = state
        self.value = value
        self.intermediate = intermediate
    }

    /// The reported value with the largest step (the last one reported at that step), if any.
    var lastIntermediate: IntermediateValue? {
        guard let lastStep = intermediate.map(\.step).max() else { return nil }
        return intermediate.last { $0.step == lastStep }
    }

    /// The value reported at `step`, if any (the last one when a step was reported twice).
    func intermediateValue(at step: Int) -> Double? { intermediate.last { $0.step == step }?.value }
}
