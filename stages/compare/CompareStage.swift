import BPETokenizer
import Foundation
import PipeKit
import TokenScoring
import Transformer

/// `compare`: champion against challenger. Both models score the same held-out tokens of the
/// old data (what the champion was trained for) and of the fresh data (what drifted in), and a
/// stated rule decides: the challenger must be better on the fresh data with confidence (the
/// upper end of the paired bootstrap interval of its bits-per-byte difference below
/// `-min_fresh_gain`), and no more than `max_old_loss` (relative) worse on the old data, again by
/// the interval's upper end. The decision and its reasons go to `decision.json`, which `promote`
/// reads.
public struct CompareStage: Stage {
    public struct Params: Parameters {
        @Param("the split of both tokens inputs that is scored") var split = HeldOutSplit.test
        @Param("predictions scored per side at most (default: all)", range: .positive) var max_tokens: Int? = nil
        @Param("sliding-window stride; default half the smaller context", range: .positive) var stride: Int? = nil
        @Param("bits per byte the challenger must gain on fresh data, at least", range: .nonNegative) var min_fresh_gain = 0.0
        @Param("how much worse (a fraction of the champion's bits per byte) the challenger may be on old data", range: .nonNegative)
        var max_old_loss = 0.02
        @Param("predictions per bootstrap block", range: .positive) var block = 256
        @Param("bootstrap resamples", range: .positive) var resamples = 1000
        @Param("confidence of the intervals", range: .closed(0.5, 0.999)) var confidence = 0.95
        @Param("seed of the bootstrap") var seed = 0
        @Param("windows per forward pass", range: .positive) var batch = 8
        public init() {}
    }

    public static let name = "compare"
    public static let version = 1
    public static let summary = "Champion against challenger on old and fresh held-out tokens; decide promotion by a stated rule."
    public static let inputs = [
        StagePort("champion", .model, doc: "the model in service"),
        StagePort("challenger", .model, doc: "the candidate"),
        StagePort("tokenizer", .tokenizer, doc: "both models' tokenizer (for text bytes)"),
        StagePort("old", .tokens, doc: "held-out tokens of the data the champion was trained for"),
        StagePort("fresh", .tokens, doc: "held-out tokens of the fresh data"),
    ]
    public static let outputs = [
        StagePort("decision", .metrics, doc: "decision.json ({promote, reasons}) and metrics.json (compare.*)"),
    ]

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let workers = Workers(context.threads)
        let champion = try ModelFiles.load(from: context.input("champion").materialize(into: context.scratch.appendingPathComponent("champion")))
        let challenger = try ModelFiles.load(from: context.input("challenger").materialize(into: context.scratch.appendingPathComponent("challenger")))
        let tokenizer = try Tokenizer(contentsOf: context.input("tokenizer").materialize(into: context.scratch.appendingPathComponent("tokenizer")))
        for (name, model) in [("champion", champion), ("challenger", challenger)] where tokenizer.vocabularySize > model.config.vocabSize {
            throw StageError("the tokenizer has \(tokenizer.vocabularySize) tokens, the \(name)'s vocabulary \(model.config.vocabSize)")
        }
        let tokenBytes = (0..<tokenizer.vocabularySize).map { tokenizer.textBytes(Int32($0)) }
        let stride = p.stride ?? max(1, min(champion.config.context, challenger.config.context) / 2)

        var metrics: [String: Double] = [:], reasons: [String] = []
        var promote = true
        for (side, port) in [("fresh", "fresh"), ("old", "old")] {
            let shards = try TokenShards(context.input(port), scratch: context.scratch)
            let split = try shards.split(p.split.rawValue)
            guard split.count > 1 else { throw StageError("\(port): the \(p.split.rawValue) split is empty") }
            func losses(_ model: TransformerModel) -> (loss: [Double], bytes: [Int]) {
                var loss: [Double] = [], bytes: [Int] = []
                _ = SlidingWindowEvaluation(model: model, workers: workers, batch: p.batch, tokenBytes: tokenBytes)
                    .evaluate(split, stride: stride, limit: p.max_tokens, progress: { _ in }) { _, l, b in
                        loss.append(l)
                        bytes.append(b)
                    }
                return (loss, bytes)
            }
            context.progress(side == "fresh" ? 0 : 0.5, "scoring the \(side) tokens")
            let a = losses(champion), b = losses(challenger)
            guard a.loss.count == b.loss.count, !a.loss.isEmpty else {
                throw StageError("\(port): the two models scored \(a.loss.count) and \(b.loss.count) predictions; they must score the same ones")
            }
            let scores = PairedScores(champion: a.loss, challenger: b.loss, bytes: a.bytes, blockSize: p.block)
            let (bpbChampion, bpbChallenger) = scores.bitsPerByte
            let interval = scores.differenceInterval(resamples: p.resamples, confidence: p.confidence, seed: UInt64(bitPattern: Int64(p.seed)))
            metrics["compare.\(side).champion_bits_per_byte"] = bpbChampion
            metrics["compare.\(side).challenger_bits_per_byte"] = bpbChallenger
            metrics["compare.\(side).delta"] = bpbChallenger - bpbChampion
            metrics["compare.\(side).delta_low"] = interval.lowerBound
            metrics["compare.\(side).delta_high"] = interval.upperBound
            let shown = String(format: "%@: challenger %.4f vs champion %.4f bits/byte, difference %+.4f (%.0f%% interval %+.4f … %+.4f, %d predictions)",
                               side, bpbChallenger, bpbChampion, bpbChallenger - bpbChampion, p.confidence * 100,
                               interval.lowerBound, interval.upperBound, a.loss.count)
            let met: Bool
            if side == "fresh" {
                met = interval.upperBound < -p.min_fresh_gain
                reasons.append(shown + (met ? "; better with confidence" : "; not better by \(p.min_fresh_gain) with confidence"))
            } else {
                let allowed = p.max_old_loss * bpbChampion
                met = interval.upperBound <= allowed
                reasons.append(shown + (met ? "; within" : "; more than") + String(format: " the allowed %+.4f (%.1f%%)", allowed, p.max_old_loss * 100))
            }
            promote = promote && met
        }
        metrics["compare.promote"] = promote ? 1 : 0
        let out = try context.output("decision")
        try JSONValue.object(["promote": .bool(promote), "reasons": .array(reasons.map(JSONValue.string))])
            .write(to: out.appendingPathComponent("decision.json"))
        try JSONValue.object(metrics.mapValues(JSONValue.double)).write(to: out.appendingPathComponent("metrics.json"))
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) { context.metric(name, value) }
        for reason in reasons { context.log(reason) }
        context.log(promote ? "decision: promote the challenger" : "decision: keep the champion")
    }
}
