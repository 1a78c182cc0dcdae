import Foundation
import Support

/// A mixture over the observed points of a group of dimensions, one component per observation
/// plus a prior component, each a product of per-dimension kernels (Optuna's
/// `_ParzenEstimator`): what TPE fits to the good trials and to the rest.
///
/// Points are the samplers' internal numbers (`Dimension.internalValue`): the value of a numeric
/// dimension, the index of a category.
struct ParzenEstimator {
    /// The weight of the prior component against observations weighted up to 1.
    static let priorWeight = 1.0

    private let logWeights: [Double]
    private let columns: [KernelColumn]

    /// `observations[i][j]` is observation i's value in `dimensions[j]`, oldest first.
    init(observations: [[Double]], dimensions: [Dimension]) {
        let n = observations.count
        let weights = n == 0 ? [1.0] : Self.observationWeights(n) + [Self.priorWeight]
        let total = weights.reduce(0, +)
        logWeights = weights.map { log($0 / total) }
        columns = dimensions.indices.map { j in
            KernelColumn(dimension: dimensions[j], points: observations.map { $0[j] })
        }
    }

    /// Optuna's `default_weights`: 1 for the newest 25 observations, older ones ramping
    /// linearly from 1/n up to 1.
    static func observationWeights(_ n: Int) -> [Double] {
        guard n >= 25 else { return Array(repeating: 1, count: n) }
        let ramp = n - 25
        let rampWeights = (0..<ramp).map { i in
            ramp == 1 ? 1 / Double(n) : 1 / Double(n) + Double(i) * (1 - 1 / Double(n)) / Double(ramp - 1)
        }
        return rampWeights + Array(repeating: 1, count: 25)
    }

    /// A point drawn from the mixture: a component by weight, then each dimension from its kernel.
    func sample(_ random: inout SplitMix64) -> [Double] {
        var u = random.nextUnit(), component = logWeights.count - 1
        for (k, logWeight) in logWeights.enumerated() {
            u -= exp(logWeight)
            if u < 0 { component = k; break }
        }
        return columns.map { $0.sample(component: component, &random) }
    }

    /// The mixture's log density (log mass for discrete dimensions) at `point`.
    func logDensity(_ point: [Double]) -> Double {
        var terms = logWeights
        for (j, column) in columns.enumerated() {
            for k in terms.indices { terms[k] += column.logDensity(component: k, at: point[j]) }
        }
        let largest = terms.max()!
        guard largest > -.infinity else { return -.infinity }
        return largest + log(terms.reduce(0) { $0 + exp($1 - largest) })
    }
}

/// One dimension's kernel in every component of a `ParzenEstimator`.
private enum KernelColumn {
    /// Truncated normals in the dimension's modelling scale (log for log dimensions, widened by
    /// half a step each side for integers); `step` rounds draws back onto an integer grid.
    case numeric(kernels: [TruncatedNormal], scale: NumericScale)
    /// Each component's probabilities of the categories.
    case categorical(probabilities: [[Double]])

    init(dimension: Dimension, points: [Double]) {
        guard let categories = dimension.categories else {
            let scale = NumericScale(dimension)
            let mus = points.map(scale.forward)
            let sigmas = NumericScale.bandwidths(mus, low: scale.low, high: scale.high)
            let kernels = zip(mus, sigmas).map { TruncatedNormal(mu: $0, sigma: $1, low: scale.low, high: scale.high) }
            let prior = TruncatedNormal(mu: 0.5 * (scale.low + scale.high), sigma: scale.high - scale.low, low: scale.low, high: scale.high)
            self = .numeric(kernels: kernels + [prior], scale: scale)
            return
        }
        // Each observation's category gets 1 on top of the prior's share spread over all of them.
        let count = categories.count, share = ParzenEstimator.priorWeight / Double(points.count + 1)
        var rows = points.map { point -> [Double] in
            var row = Array(repeating: share, count: count)
            row[Int(point)] += 1
            let total = row.reduce(0, +)
            return row.map { $0 / total }
        }
        rows.append(Array(repeating: 1 / Double(count), count: count))
        self = .categorical(probabilities: rows)
    }

    func sample(component: Int, _ random: inout SplitMix64) -> Double {
        switch self {
        case .numeric(let kernels, let scale):
            return scale.backward(kernels[component].sample(&random))
        case .categorical(let probabilities):
            var u = random.nextUnit()
            for (index, p) in probabilities[component].enumerated() {
                u -= p
                if u < 0 { return Double(index) }
            }
            return Double(probabilities[component].count - 1)
        }
    }

    func logDensity(component: Int, at x: Double) -> Double {
        switch self {
        case .numeric(let kernels, let scale):
            guard let step = scale.step else { return kernels[component].logDensity(scale.forward(x)) }
            return kernels[component].logProbability(from: scale.forward(x - step / 2), to: scale.forward(x + step / 2))
        case .categorical(let probabilities):
            return log(probabilities[component][Int(x)])
        }
    }
}
