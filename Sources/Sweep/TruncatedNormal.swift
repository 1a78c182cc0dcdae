import Foundation
import Support

/// The normal distribution N(mu, sigma) cut to [low, high]: draws, log density and log mass,
/// accurate far into the tails (a kernel many widths away from a point still ranks it).
struct TruncatedNormal {
    let mu: Double
    let sigma: Double
    let low: Double
    let high: Double
    /// log of the untruncated normal's mass on [low, high], the normalizer of every density.
    private let logTotalMass: Double

    init(mu: Double, sigma: Double, low: Double, high: Double) {
        self.mu = mu
        self.sigma = sigma
        self.low = low
        self.high = high
        logTotalMass = Self.logMass((low - mu) / sigma, (high - mu) / sigma)
    }

    /// A draw by rejection from the untruncated normal (kernels are centred inside [low, high],
    /// so at least a third of the draws land in range); a clamped draw after 1000 misses.
    func sample(_ random: inout SplitMix64) -> Double {
        var x = mu
        for _ in 0..<1000 {
            x = mu + sigma * Self.standardNormal(&random)
            if x >= low && x <= high { return x }
        }
        return min(max(x, low), high)
    }

    /// log density at x (inside [low, high]).
    func logDensity(_ x: Double) -> Double {
        let z = (x - mu) / sigma
        return -0.5 * z * z - Self.logSqrt2Pi - log(sigma) - logTotalMass
    }

    /// log of the truncated distribution's mass on [a, b] (inside [low, high]).
    func logProbability(from a: Double, to b: Double) -> Double {
        Self.logMass((a - mu) / sigma, (b - mu) / sigma) - logTotalMass
    }

    static let logSqrt2Pi = 0.5 * log(2 * Double.pi)

    /// log(Φ(b) - Φ(a)) for a < b, computed on the side of zero where it does not cancel.
    static func logMass(_ a: Double, _ b: Double) -> Double {
        if a >= 0 { return logDifference(logUpperTail(a), logUpperTail(b)) }
        if b <= 0 { return logDifference(logUpperTail(-b), logUpperTail(-a)) }
        // The interval holds 0: Φ(b) - Φ(a) = 1 - Q(b) - Q(-a), with both tails at most 1/2.
        return log1p(-0.5 * erfc(b / 2.0.squareRoot()) - 0.5 * erfc(-a / 2.0.squareRoot()))
    }

    /// log Q(z) = log P(Z > z) for z >= 0: erfc while it does not underflow, then the asymptotic series.
    static func logUpperTail(_ z: Double) -> Double {
        if z.isInfinite { return -.infinity }
        if z < 25 { return log(0.5 * erfc(z / 2.0.squareRoot())) }
        let inverseSquare = 1 / (z * z)
        let series = 1 - inverseSquare * (1 - 3 * inverseSquare * (1 - 5 * inverseSquare))
        return -0.5 * z * z - log(z) - logSqrt2Pi + log(series)
    }

    /// log(e^p - e^q) for p >= q.
    static func logDifference(_ p: Double, _ q: Double) -> Double {
        if p == -.infinity { return -.infinity }
        return p + log(-expm1(q - p))
    }

    /// A standard normal draw (Box-Muller).
    static func standardNormal(_ random: inout SplitMix64) -> Double {
        let u = 1 - random.nextUnit(), v = random.nextUnit()
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
