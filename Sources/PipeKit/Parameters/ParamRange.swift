/// Bounds on a numeric parameter. The engine checks them when it reads a manifest, pointing at
/// the value's line and column; `pipe stages` shows them and the JSON Schema carries them.
public struct ParamRange: Sendable, Hashable, CustomStringConvertible {
    public var lower: Double?
    public var lowerInclusive = true
    public var upper: Double?
    public var upperInclusive = true

    public init(lower: Double? = nil, lowerInclusive: Bool = true, upper: Double? = nil, upperInclusive: Bool = true) {
        self.lower = lower
        self.lowerInclusive = lowerInclusive
        self.upper = upper
        self.upperInclusive = upperInclusive
    }

    /// Greater than zero.
    public static let positive = ParamRange(lower: 0, lowerInclusive: false)
    /// Zero or more.
    public static let nonNegative = ParamRange(lower: 0)
    /// At least `value`.
    public static func atLeast(_ value: Double) -> ParamRange { ParamRange(lower: value) }
    /// From `lower` to `upper`, both included.
    public static func closed(_ lower: Double, _ upper: Double) -> ParamRange { ParamRange(lower: lower, upper: upper) }
    /// From `lower` included to `upper` excluded.
    public static func halfOpen(_ lower: Double, _ upper: Double) -> ParamRange {
        ParamRange(lower: lower, upper: upper, upperInclusive: false)
    }
    /// Above `lower` and up to `upper` included.
    public static func leftOpen(_ lower: Double, _ upper: Double) -> ParamRange {
        ParamRange(lower: lower, lowerInclusive: false, upper: upper)
    }

    public func contains(_ value: Double) -> Bool {
        if let lower, lowerInclusive ? value < lower : value <= lower { return false }
        if let upper, upperInclusive ? value > upper : value >= upper { return false }
        return true
    }

    /// `> 0`, `>= 1`, `[0, 1)`.
    public var description: String {
        switch (lower, upper) {
        case (let l?, let u?):
            return "\(lowerInclusive ? "[" : "(")\(Self.number(l)), \(Self.number(u))\(upperInclusive ? "]" : ")")"
        case (let l?, nil): return "\(lowerInclusive ? ">=" : ">") \(Self.number(l))"
        case (nil, let u?): return "\(upperInclusive ? "<=" : "<") \(Self.number(u))"
        case (nil, nil): return "any"
        }
    }

    /// The sentence an error message ends with: "must be positive", "must be in [0, 1)".
    public var requirement: String {
        switch self {
        case .positive: return "must be positive"
        case .nonNegative: return "must not be negative"
        default:
            if let lower, upper == nil, lowerInclusive { return "must be at least \(Self.number(lower))" }
            return lower != nil && upper != nil ? "must be in \(description)" : "must be \(description)"
        }
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
    }
}
