/// An error a stage throws with a message meant for the user.
public struct StageError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A stage's refusal of its parameters before it does any work (a model over the objective's
/// `max_parameters`): a failure of a run, and a sweep records the trial as refused, not failed.
public struct StageRefusal: Error, CustomStringConvertible, Sendable {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
