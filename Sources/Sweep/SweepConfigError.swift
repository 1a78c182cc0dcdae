/// A sweep block that cannot be used: every problem found, each naming its field path
/// (`sweep.space.lr: log_uniform needs 0 < low < high`).
public struct SweepConfigError: Error, CustomStringConvertible, Sendable {
    public var problems: [String]

    public init(_ problems: [String]) { self.problems = problems }

    /// One problem at `field`.
    public init(field: String, _ problem: String) { self.problems = ["\(field): \(problem)"] }

    public var description: String { problems.joined(separator: "\n") }
}
