import Foundation
import PipeKit
import Transformer

/// Next-token metrics of a model over one token split, with sliding windows: every token after
/// the first is predicted exactly once, and after the first window each prediction sees at
/// least `context − stride` tokens of context (Hugging Face's perplexity recipe).
struct SlidingWindowEvaluation {
    /// Sums over the scored tokens.
    struct Totals {
        var tokens = 0
        var loss = 0.0
        var bytes = 0
        var top1 = 0
        var top5 = 0

        /// `<split>.<metric>` values (bits per byte needs the tokens' text bytes).
        func metrics(_ split: String) -> [String: Double] {
            let mean = loss / Double(max(tokens, 1))
            var m = ["\(split).loss": mean, "\(split).perplexity": exp(mean), "\(split).top1": Double(top1) / Double(max(tokens, 1)),
                     "\(split).top5": Double(top5) / Double(max(tokens, 1)), "\(split).tokens": Double(tokens)]
            if bytes > 0 { m["\(split).bits_per_byte"] = loss / log(2) / Double(bytes) }
            return m
        }
    }

    /// One window: where it starts in the split and from which of its rows predictions count.
    struct Window {
        var start: Int
        var firstScored: Int
    }

    let model: TransformerModel
    let workers: Workers
    let batch: Int
    /// Text bytes each token id stands for (0 for special tokens).
    let tokenBytes: [Int]

    /// The windows over `count` tokens with `length`-token inputs advancing by `stride`; at most
    /// `limit` predictions are scored.
    static func windows(count: Int, length: Int, stride: Int, limit: Int?) -> [Window] {
        let predictions = min(count - 1, limit ?? .max)
        guard predictions > 0 else { return [] }
        var windows = [Window(start: 0, firstScored: 0)]
        var scoredThrough = min(length, predictions)  // predictions of tokens 1...scoredThrough are covered
        while scoredThrough < predictions {
            let end = min(scoredThrough + stride, predictions)  // the window predicts tokens up to `end`
            let start = end - length
            windows.append(Window(start: start, firstScored: scoredThrough - start))
            scoredThrough = end
        }
        return windows
    }

    func evaluate(_ split: TokenSplit, stride: Int, limit: Int?, progress: (Double) -> Void) -> Totals {
        let context = model.config.context
        let length = min(context, split.count - 1)
        var totals = Totals()
        guard length > 0 else { return totals }
        let windows = Self.windows(count: split.count, length: length, stride: min(stride, length), limit: limit)
        let rowsPerBatch = min(batch, windows.count)
        let acts = Activations(config: model.config, batch: rowsPerBatch, seq: length, workers: workers, training: false)
        let buffer = UnsafeMutablePointer<Int32>.allocate(capacity: length + 1)
        defer { buffer.deallocate() }
        for first in Swift.stride(from: 0, to: windows.count, by: rowsPerBatch) {
            let group = windows[first..<min(first + rowsPerBatch, windows.count)]
            for (b, w) in group.enumerated() {
                split.copy(from: w.start, count: length + 1, into: buffer)
                (acts.tokens + b * length).update(from: buffer, count: length)
                (acts.targets + b * length).update(from: buffer + 1, count: length)
            }
            // Rows of a short last batch repeat the first window; they are not counted.
            for b in group.count..<rowsPerBatch {
                (acts.tokens + b * length).update(from: acts.tokens, count: length)
                (acts.targets + b * length).update(from: acts.targets, count: length)
            }
            model.run(acts, perRow: true)
            for (b, w) in group.enumerated() {
                for t in w.firstScored..<length {
                    let row = b * length + t
                    totals.tokens += 1
                    totals.loss += Double(acts.rowLosses[row])
                    totals.bytes += tokenBytes[Int(acts.targets[row])]
                    if acts.ranks[row] == 0 { totals.top1 += 1 }
                    if acts.ranks[row] < 5 { totals.top5 += 1 }
                }
            }
            progress(Double(first + group.count) / Double(windows.count))
        }
        return totals
    }
}
