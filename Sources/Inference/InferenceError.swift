/// A problem the inference engine reports to its caller: a model it cannot load, or a request
/// it cannot serve (a prompt and completion longer than the context, a token outside the
/// vocabulary). The message names the file or the limit.
public struct InferenceError: Error, CustomStringConvertible, Sendable {
    /// What kind of problem, so a server can answer with the right status and code.
    public enum Kind: Sendable { case model, contextLengthExceeded, invalidRequest }

    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}
