import Foundation
import PipeKit
import Support

/// The Tree-structured Parzen Estimator as Optuna's default `TPESampler` (5.x) runs it for one
/// objective.
///
/// The first `startupTrials` trials (counting complete, pruned and refused ones) are drawn as
/// `RandomSampler` draws them. After that the finished trials are split (`TPESplit`) into the
/// gamma(n) = min(ceil(n / 10), 25) best and the rest; a `ParzenEstimator` is fitted to each
/// (prior weight 1, Optuna's bandwidths with the magic clip and without endpoints, older trials'
/// weights ramped down past 25), `candidates` points are drawn from the good one, and the point
/// with the largest log l(x) - log g(x) wins. Log dimensions are modelled in log space, integers
/// as rounded truncated normals, categories (`choice`, `grid`) by counts plus the prior. Failed
/// trials, and complete trials without a value (or a NaN one), are ignored; running trials
/// count among the bad (Optuna's constant liar).
///
/// `multivariate` (Optuna's default since 5.0) fits one estimator over all dimensions, so the
/// parameters of one good trial are proposed together; `false` fits one per dimension (Optuna
/// before 5.0).
///
/// Differences from Optuna: the draws come from SplitMix64 streams keyed by (seed, trial number)
/// instead of one NumPy generator advanced across the study, so a trial's params depend only on
/// what it was shown; truncated normals are drawn by rejection rather than by inverse CDF
/// (the same distribution, other numbers); refused trials take the place of Optuna's infeasible
/// (constraint-violating) trials, all equally bad.
public struct TPESampler: Sampler {
    public let space: SearchSpace
    public let direction: Direction
    public let seed: UInt64
    public let startupTrials: Int
    public let candidates: Int
    public let multivariate: Bool

    public init(space: SearchSpace, direction: Direction, seed: UInt64, startupTrials: Int = 10,
                candidates: Int = 24, multivariate: Bool = true) {
        self.space = space
        self.direction = direction
        self.seed = seed
        self.startupTrials = startupTrials
        self.candidates = max(1, candidates)
        self.multivariate = multivariate
    }

    /// Optuna's `default_gamma`: how many of n finished trials count as good.
    static func gamma(_ n: Int) -> Int { min((n + 9) / 10, 25) }

    public func suggest(number: Int, history: [TrialRecord]) -> [String: JSONValue]? {
        let trials = history.filter { $0.number != number && Self.isModelled($0) }
        let finished = trials.filter { $0.state != .running }.count
        guard finished >= startupTrials, finished > 0 else {
            return RandomSampler(space: space, seed: seed).suggest(number: number, history: history)
        }
        let split = TPESplit(trials, count: Self.gamma(finished), direction: direction)
        let groups = multivariate ? [space.dimensions] : space.dimensions.map { [$0] }
        var params: [String: JSONValue] = [:]
        for group in groups {
            var random = SplitMix64.trial(number, "tpe/" + group.map(\.path).joined(separator: ","), seed: seed)
            let point = bestCandidate(group, below: split.below, above: split.above, &random)
            for (dimension, x) in zip(group, point) { params[dimension.path] = dimension.externalValue(of: x) }
        }
        return params
    }

    /// The candidate drawn from the good trials' estimator that the bad trials' explains least.
    private func bestCandidate(_ group: [Dimension], below: [TrialRecord], above: [TrialRecord],
                               _ random: inout SplitMix64) -> [Double] {
        let good = ParzenEstimator(observations: Self.observations(below, group), dimensions: group)
        let bad = ParzenEstimator(observations: Self.observations(above, group), dimensions: group)
        var best: (point: [Double], score: Double)?
        for _ in 0..<candidates {
            let point = good.sample(&random)
            let score = good.logDensity(point) - bad.logDensity(point)
            if best == nil || score > best!.score { best = (point, score) }
        }
        return best!.point
    }

    /// The trials' points in the group's dimensions, leaving out trials without a usable value in each.
    private static func observations(_ trials: [TrialRecord], _ group: [Dimension]) -> [[Double]] {
        trials.compactMap { trial in
            let point = group.map { dimension in trial.params[dimension.path].flatMap(dimension.internalValue) }
            return point.contains { $0 == nil } ? nil : point.map { $0! }
        }
    }

    private static func isModelled(_ trial: TrialRecord) -> Bool {
        switch trial.state {
        case .complete: return trial.value.map { !$0.isNaN } ?? false
        case .pruned, .refused, .running: return true
        case .failed: return false
        }
    }
}
