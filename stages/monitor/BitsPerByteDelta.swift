import Foundation
import PipeKit
import TokenScoring

/// The difference of a model's bits per byte between current and reference documents, with a
/// seeded percentile-bootstrap confidence interval that resamples documents on each side.
struct BitsPerByteDelta: Equatable {
    /// One document's summed loss (nats) over its scored tokens and those tokens' text bytes.
    struct DocumentLoss: Equatable {
        var loss: Double
        var bytes: Int
    }

    var reference: Double
    var current: Double
    /// `current − reference`: positive when the model does worse on current documents.
    var delta: Double { current - reference }
    var low: Double
    var high: Double

    /// Bits per byte of a set of documents: their summed loss over their summed bytes (so long
    /// documents weigh more, as in `evaluate`). Nil without bytes.
    static func bitsPerByte(_ documents: some Sequence<DocumentLoss>) -> Double? {
        var loss = 0.0, bytes = 0
        for d in documents {
            loss += d.loss
            bytes += d.bytes
        }
        return bytes > 0 ? loss / log(2) / Double(bytes) : nil
    }

    /// The delta and its `confidence` interval from `resamples` bootstrap resamples (documents
    /// drawn with replacement, each side its own size; the interval's ends are the resampled
    /// deltas' quantiles, linearly interpolated as numpy's `quantile` does). Nil when either side
    /// has no bytes.
    static func measure(reference: [DocumentLoss], current: [DocumentLoss], resamples: Int, confidence: Double,
                        seed: UInt64) -> BitsPerByteDelta?
    {
        guard let r = bitsPerByte(reference), let c = bitsPerByte(current) else { return nil }
        var rng = SplitMix64(seed: seed)
        func resample(_ documents: [DocumentLoss]) -> [DocumentLoss] {
            (0..<documents.count).map { _ in documents[Int(rng.next() % UInt64(documents.count))] }
        }
        var deltas: [Double] = []
        for _ in 0..<resamples {
            // A resample whose documents all have no text bytes has no bits per byte; it is left out.
            guard let rb = bitsPerByte(resample(reference)), let cb = bitsPerByte(resample(current)) else { continue }
            deltas.append(cb - rb)
        }
        deltas.sort()
        let tail = (1 - confidence) / 2
        return BitsPerByteDelta(reference: r, current: c, low: deltas.sortedQuantile(tail) ?? c - r,
                                high: deltas.sortedQuantile(1 - tail) ?? c - r)
    }
}
