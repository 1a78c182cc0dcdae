import PipeKit

/// One axis of a search space: the params path it sets (`train.lr`) and the values it may take.
public struct Dimension: Sendable, Equatable {
    /// The dotted params path (`lr`, `train.lr`).
    public var path: String
    public var kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    /// The kinds of dimension a sweep's `space` can declare.
    public enum Kind: Sendable, Equatable {
        /// A float drawn evenly from [low, high].
        case uniform(low: Double, high: Double)
        /// A float whose logarithm is drawn evenly from [log low, log high].
        case logUniform(low: Double, high: Double)
        /// An integer in low...high on the grid low, low + step, ... (log: drawn evenly in log space).
        case int(IntRange)
        /// One of the values, unordered.
        case choice([JSONValue])
        /// One of the values; a grid sweep enumerates every one (other samplers treat it as a choice).
        case grid([JSONValue])
    }

    /// The integer range of an `int` dimension.
    public struct IntRange: Sendable, Equatable {
        public var low: Int64
        public var high: Int64
        public var log: Bool
        public var step: Int64

        public init(low: Int64, high: Int64, log: Bool = false, step: Int64 = 1) {
            self.low = low
            self.high = high
            self.log = log
            self.step = step
        }

        /// How many values the range holds.
        public var count: Int64 { (high - low) / step + 1 }
    }

    /// The values of a `choice` or `grid` dimension; nil for the numeric kinds.
    public var categories: [JSONValue]? {
        switch kind {
        case .choice(let values), .grid(let values): return values
        case .uniform, .logUniform, .int: return nil
        }
    }

    /// The kind's name as the manifest spells it.
    public var kindName: String {
        switch kind {
        case .uniform: return "uniform"
        case .logUniform: return "log_uniform"
        case .int: return "int"
        case .choice: return "choice"
        case .grid: return "grid"
        }
    }
}
