import Foundation
import PipeKit
import Support

/// Independent draws for every dimension: evenly over [low, high] (in log space for log
/// dimensions), over an int's values, and over a choice's values. Each dimension of each trial has
/// its own stream seeded by (seed, trial number, path), so adding a dimension leaves the others'
/// draws unchanged.
public struct RandomSampler: Sampler {
    public let space: SearchSpace
    public let seed: UInt64

    public init(space: SearchSpace, seed: UInt64) {
        self.space = space
        self.seed = seed
    }

    public func suggest(number: Int, history: [TrialRecord]) -> [String: JSONValue]? {
        var params: [String: JSONValue] = [:]
        for dimension in space.dimensions {
            var random = SplitMix64.trial(number, "random/\(dimension.path)", seed: seed)
            params[dimension.path] = dimension.randomValue(&random)
        }
        return params
    }
}

extension Dimension {
    /// A value drawn from the dimension's own range, as `RandomSampler` draws it.
    func randomValue(_ random: inout SplitMix64) -> JSONValue {
        let u = random.nextUnit()
        switch kind {
        case .uniform(let low, let high):
            return externalValue(of: low + u * (high - low))
        case .logUniform(let low, let high):
            return externalValue(of: exp(log(low) + u * (log(high) - log(low))))
        case .int(let range) where range.log:
            // Optuna's way: evenly in log space over [low - 1/2, high + 1/2], then rounded.
            let low = log(Double(range.low) - 0.5), high = log(Double(range.high) + 0.5)
            return externalValue(of: exp(low + u * (high - low)))
        case .int(let range):
            return .int(range.low + Int64(min(u * Double(range.count), Double(range.count - 1))) * range.step)
        case .choice(let values), .grid(let values):
            return values[min(Int(u * Double(values.count)), values.count - 1)]
        }
    }
}
