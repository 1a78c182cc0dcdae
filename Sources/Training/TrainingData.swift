import PipeKit
import Support
import Transformer

/// Where a training run's rows come from: random windows of a token split (pretraining), or
/// labelled examples with masked targets and optional packing (fine-tuning). Every method is a
/// pure function of its arguments, so a resumed run sees exactly the batches the
/// uninterrupted one would have, and every MPI rank agrees on the step's token count.
public protocol TrainingData {
    /// Tokens per row.
    var sequenceLength: Int { get }
    /// Trained-on targets (those not -1) in all rows of every micro-batch of `step`, on every
    /// rank: the loss and its gradient are averaged over exactly these.
    func trainableTokens(step: Int, microBatches: Int, globalRows: Int) -> Int
    /// Fills `acts` with this rank's rows of a micro-batch: tokens, targets (-1 where not
    /// trained) and segment starts.
    func fillTraining(_ acts: Activations, _ place: BatchPlace)
    /// Validation rows available, at most about `maxTokens` tokens' worth.
    func validationRows(maxTokens: Int) -> Int
    /// Fills `acts` with validation rows `first ..< first + acts.batch`; returns their trained-on
    /// targets.
    func fillValidation(_ acts: Activations, first: Int) -> Int
}

/// Where a micro-batch's rows sit in the run: step, micro-batch, and this rank's share of the
/// `globalRows` rows (its first is `firstRow`).
public struct BatchPlace {
    public var step: Int
    public var micro: Int
    public var microBatches: Int
    public var globalRows: Int
    public var firstRow: Int

    /// The index of this rank's first row among all rows of the run so far.
    public var firstGlobalRow: Int { (step * microBatches + micro) * globalRows + firstRow }
}

/// Pretraining's rows: windows of `sequenceLength + 1` tokens at random offsets of the train
/// split, chosen by (seed, step, micro-batch) alone; validation takes the val split's first
/// consecutive windows, the same ones every time. Every target is trained on.
public struct TokenWindows: TrainingData {
    public let train: TokenSplit
    public let val: TokenSplit
    public let sequenceLength: Int
    public let seed: Int

    public init(train: TokenSplit, val: TokenSplit, sequenceLength: Int, seed: Int) {
        self.train = train
        self.val = val
        self.sequenceLength = sequenceLength
        self.seed = seed
    }

    /// The train and val splits of a tokens artifact.
    public init(_ tokens: TokenShards, sequenceLength: Int, seed: Int) throws {
        self.init(train: try tokens.split("train"), val: try tokens.split("val"), sequenceLength: sequenceLength, seed: seed)
    }

    public func trainableTokens(step: Int, microBatches: Int, globalRows: Int) -> Int {
        microBatches * globalRows * sequenceLength
    }

    public func fillTraining(_ acts: Activations, _ place: BatchPlace) {
        var rng = SplitMix64.keyed("batch \(place.step) \(place.micro)", seed: UInt64(seed))
        let seq = sequenceLength, span = train.count - seq, first = place.firstRow
        for b in 0..<first + acts.batch {
            let start = Int(rng.next() % UInt64(span))
            guard b >= first else { continue }
            train.copy(from: start, count: seq, into: acts.tokens + (b - first) * seq)
            train.copy(from: start + 1, count: seq, into: acts.targets + (b - first) * seq)
        }
    }

    public func validationRows(maxTokens: Int) -> Int {
        min(maxTokens / sequenceLength, max(0, (val.count - 1) / sequenceLength))
    }

    public func fillValidation(_ acts: Activations, first: Int) -> Int {
        let seq = sequenceLength
        for b in 0..<acts.batch {
            let start = (first + b) * seq
            val.copy(from: start, count: seq, into: acts.tokens + b * seq)
            val.copy(from: start + 1, count: seq, into: acts.targets + b * seq)
        }
        return acts.batch * seq
    }
}
