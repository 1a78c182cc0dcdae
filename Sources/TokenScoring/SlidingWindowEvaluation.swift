import Foundation
import PipeKit
import Transformer

/// A sequence of token ids that windows are copied from: a token split, or tokens in memory.
public protocol TokenSource {
    /// Tokens in the sequence.
    var count: Int { get }
    /// Copies tokens `start ..< start + n` into `out`.
    func copy(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>)
}

extension TokenSplit: TokenSource {}

extension Array: TokenSource where Element == Int32 {
    public func copy(from start: Int, count n: Int, into out: UnsafeMutablePointer<Int32>) {
        withUnsafeBufferPointer { out.update(from: $0.baseAddress! + start, count: n) }
    }
}

/// Next-token metrics of a model over a token sequence, with sliding windows: every token after
/// the first is predicted exactly once, and after the first window each prediction sees at
/// least `context − stride` tokens of context (Hugging Face's perplexity recipe). Used by
/// `evaluate` (held-out splits) and `monitor` (documents on each side, scored per document).
public struct SlidingWindowEvaluation {
    /// Sums over the scored tokens.
    public struct Totals {
        public var tokens = 0
        public var loss = 0.0
        public var bytes = 0
        public var top1 = 0
        public var top5 = 0

        /// `<split>.<metric>` values (bits per byte needs the tokens' text bytes).
        public func metrics(_ split: String) -> [String: Double] {
            let mean = loss / Double(max(tokens, 1))
            var m = ["\(split).loss": mean, "\(split).perplexity": exp(mean), "\(split).top1": Double(top1) / Double(max(tokens, 1)),
                     "\(split).top5": Double(top5) / Double(max(tokens, 1)), "\(split).tokens": Double(tokens)]
            if bytes > 0 { m["\(split).bits_per_byte"] = loss / log(2) / Double(bytes) }
            return m
        }
    }

    /// One window: where it starts in the split and from which of its rows predictions count.
    public struct Window: Equatable {
        public var start: Int
        public var firstScored: Int
    }

    let model: TransformerModel
    let workers: Workers
    let batch: Int
    /// Text bytes each token id stands for (0 for special tokens).
    let tokenBytes: [Int]

    public init(model: TransformerModel, workers: Workers, batch: Int, tokenBytes: [Int]) {
        self.model = model
        self.workers = workers
        self.batch = batch
        self.tokenBytes = tokenBytes
    }

    /// The windows over `count` tokens with `length`-token inputs advancing by `stride`; at most
    /// `limit` predictions are scored.
    public static func windows(count: Int, length: Int, stride: Int, limit: Int?) -> [Window] {
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

    /// Scores `split`; `scored` (when given) sees each scored prediction: the position of the
    /// predicted token in `split`, its loss in nats and its text bytes.
    public func evaluate(_ split: some TokenSource, stride: Int, limit: Int?, progress: (Double) -> Void,
                         scored: ((_ position: Int, _ loss: Double, _ bytes: Int) -> Void)? = nil) -> Totals {
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
                    let loss = Double(acts.rowLosses[row]), bytes = tokenBytes[Int(acts.targets[row])]
                    totals.tokens += 1
                    totals.loss += loss
                    totals.bytes += bytes
                    scored?(w.start + t + 1, loss, bytes)
                    if acts.ranks[row] == 0 { totals.top1 += 1 }
                    if acts.ranks[row] < 5 { totals.top5 += 1 }
                }
            }
            progress(Double(first + group.count) / Double(windows.count))
        }
        return totals
    }
}
