import Foundation

/// Where TPE models a numeric dimension: in log space for log dimensions, and for integers on
/// [low - step/2, high + step/2] so that the end values get a whole step's mass.
struct NumericScale {
    /// The external range.
    let lowValue: Double
    let highValue: Double
    let log: Bool
    /// The integer grid's step; nil for floats.
    let step: Double?
    /// The modelled range.
    let low: Double
    let high: Double

    init(_ dimension: Dimension) {
        switch dimension.kind {
        case .uniform(let low, let high): (lowValue, highValue, log, step) = (low, high, false, nil)
        case .logUniform(let low, let high): (lowValue, highValue, log, step) = (low, high, true, nil)
        case .int(let range): (lowValue, highValue, log, step) = (Double(range.low), Double(range.high), range.log, Double(range.step))
        case .choice, .grid: preconditionFailure("\(dimension.path) is categorical")
        }
        let halfStep = (step ?? 0) / 2
        low = log ? Foundation.log(lowValue - halfStep) : lowValue - halfStep
        high = log ? Foundation.log(highValue + halfStep) : highValue + halfStep
    }

    func forward(_ x: Double) -> Double { log ? Foundation.log(x) : x }

    /// A modelled value back to the dimension's values: out of log space, onto the grid, in range.
    func backward(_ y: Double) -> Double {
        let x = log ? exp(y) : y
        guard let step else { return min(max(x, lowValue), highValue) }
        let onGrid: Double = lowValue + ((x - lowValue) / step).rounded() * step
        return Swift.min(Swift.max(onGrid, lowValue), highValue)
    }

    /// Optuna's kernel widths: each point's larger gap to its sorted neighbours (the range ends
    /// count as neighbours, except that the outermost points use their inner gap alone), clipped
    /// to [range / min(100, n + 2), range].
    static func bandwidths(_ mus: [Double], low: Double, high: Double) -> [Double] {
        let order = mus.indices.sorted { mus[$0] < mus[$1] }
        var sorted: [Double] = [low]
        sorted += order.map { mus[$0] }
        sorted.append(high)
        var sortedSigmas: [Double] = (1..<sorted.count - 1).map { i in
            let left: Double = sorted[i] - sorted[i - 1], right: Double = sorted[i + 1] - sorted[i]
            return max(left, right)
        }
        if mus.count >= 2 {
            sortedSigmas[0] = sorted[2] - sorted[1]
            sortedSigmas[mus.count - 1] = sorted[mus.count] - sorted[mus.count - 1]
        }
        let range = high - low, smallest = range / min(100, Double(mus.count + 2))
        var sigmas = Array(repeating: 0.0, count: mus.count)
        for (rank, index) in order.enumerated() { sigmas[index] = min(max(sortedSigmas[rank], smallest), range) }
        return sigmas
    }
}
