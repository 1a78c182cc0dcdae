import Foundation
import PipeKit
import TokenScoring

/// The difference of a ratio of sums between a current sample and a reference one, with a
/// seeded percentile-bootstrap confidence interval that resamples the parts on each side. The
/// model's bits per byte is one (documents' summed losses over their text bytes), the mean
/// log-probability of served tokens another (requests' summed log-probabilities over their
/// tokens).
struct RatioDelta: Equatable {
    /// One document's or request's share of the ratio: an amount (a summed loss, summed
    /// log-probabilities) and its weight (text bytes, tokens).
    struct Part: Equatable {
        var amount: Double
        var weight: Double
    }

    var reference: Double
    var current: Double
    /// `current − reference`.
    var delta: Double { current - reference }
    var low: Double
    var high: Double

    /// `scale · Σ amount / Σ weight`, so heavy parts weigh more (long documents, long answers).
    /// Nil without weight.
    static func ratio(_ parts: some Sequence<Part>, scale: Double) -> Double? {
        var amount = 0.0, weight = 0.0
        for part in parts {
            amount += part.amount
            weight += part.weight
        }
        return weight > 0 ? scale * amount / weight : nil
    }

    /// The delta and its `confidence` interval from `resamples` bootstrap resamples (parts
    /// drawn with replacement, each side its own size; the interval's ends are the resampled
    /// deltas' quantiles, linearly interpolated as numpy's `quantile` does). Nil when either
    /// side has no weight.
    static func measure(reference: [Part], current: [Part], scale: Double, resamples: Int, confidence: Double,
                        seed: UInt64) -> RatioDelta?
    {
        guard let r = ratio(reference, scale: scale), let c = ratio(current, scale: scale) else { return nil }
        var rng = SplitMix64(seed: seed)
        func resample(_ parts: [Part]) -> [Part] {
            (0..<parts.count).map { _ in parts[Int(rng.next() % UInt64(parts.count))] }
        }
        var deltas: [Double] = []
        for _ in 0..<resamples {
            // A resample whose parts all weigh nothing has no ratio; it is left out.
            guard let rb = ratio(resample(reference), scale: scale), let cb = ratio(resample(current), scale: scale) else { continue }
            deltas.append(cb - rb)
        }
        deltas.sort()
        let tail = (1 - confidence) / 2
        return RatioDelta(reference: r, current: c, low: deltas.sortedQuantile(tail) ?? c - r,
                          high: deltas.sortedQuantile(1 - tail) ?? c - r)
    }

    /// Bits per byte from documents' losses in nats (amount) over their text bytes (weight).
    static let bitsPerByteScale = 1 / log(2.0)
}
