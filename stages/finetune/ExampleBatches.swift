import PipeKit
import Support
import Training
import Transformer

/// Fine-tuning's rows: tokenized examples, one per row (padded) or packed several to a row,
/// in a seeded order that changes every epoch. A packed row keeps each example to itself:
/// its positions' segment start is the example's first position, so attention stays within
/// the example and RoPE positions restart. Targets that are not learned are -1.
final class ExampleBatches: TrainingData {
    let train: [TokenizedExample]
    let validation: [TokenizedExample]
    let sequenceLength: Int
    let packing: Bool
    let seed: Int
    let padding: Int32
    /// Rows of each epoch computed so far, and the first global row of each.
    private var epochs: [[Row]] = []
    private var epochStarts: [Int] = [0]
    private lazy var validationRowList: [Row] = rows(of: Array(validation.indices), in: validation)

    /// A row: examples (indices) in order, and its learned-target count.
    struct Row {
        var examples: [Int]
        var targets: Int
    }

    init(train: [TokenizedExample], validation: [TokenizedExample], sequenceLength: Int, packing: Bool, seed: Int, padding: Int32) {
        precondition(!train.isEmpty && train.allSatisfy { $0.positions <= sequenceLength } && validation.allSatisfy { $0.positions <= sequenceLength })
        self.train = train
        self.validation = validation
        self.sequenceLength = sequenceLength
        self.packing = packing
        self.seed = seed
        self.padding = padding
    }

    /// Rows in one epoch (the first; packed epochs differ by a row or so).
    var rowsPerEpoch: Int { epoch(0).count }

    func trainableTokens(step: Int, microBatches: Int, globalRows: Int) -> Int {
        let first = step * microBatches * globalRows
        return (first..<first + microBatches * globalRows).reduce(0) { $0 + row($1).targets }
    }

    func fillTraining(_ acts: Activations, _ place: BatchPlace) {
        for b in 0..<acts.batch { fill(acts, at: b, row(place.firstGlobalRow + b), from: train) }
    }

    func validationRows(maxTokens: Int) -> Int { min(validationRowList.count, max(1, maxTokens / sequenceLength)) }

    func fillValidation(_ acts: Activations, first: Int) -> Int {
        var targets = 0
        for b in 0..<acts.batch {
            let row = validationRowList[first + b]
            fill(acts, at: b, row, from: validation)
            targets += row.targets
        }
        return targets
    }

    // MARK: Rows

    /// Row `global` of the endless sequence of epochs.
    private func row(_ global: Int) -> Row {
        var e = 0
        while true {
            let rows = epoch(e)
            if global < epochStarts[e] + rows.count { return rows[global - epochStarts[e]] }
            if epochStarts.count == e + 1 { epochStarts.append(epochStarts[e] + rows.count) }
            e += 1
        }
    }

    private func epoch(_ e: Int) -> [Row] {
        while epochs.count <= e {
            var order = Array(train.indices)
            var rng = SplitMix64.keyed("epoch \(epochs.count)", seed: UInt64(bitPattern: Int64(seed)))
            for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            epochs.append(rows(of: order, in: train))
        }
        return epochs[e]
    }

    /// Examples in this order, one to a row, or packed into rows in order (a row is closed when
    /// the next example does not fit).
    private func rows(of order: [Int], in examples: [TokenizedExample]) -> [Row] {
        var rows: [Row] = [], current = Row(examples: [], targets: 0), used = 0
        for index in order {
            let example = examples[index]
            if !current.examples.isEmpty, !packing || used + example.positions > sequenceLength {
                rows.append(current)
                current = Row(examples: [], targets: 0)
                used = 0
            }
            current.examples.append(index)
            current.targets += example.targets
            used += example.positions
        }
        if !current.examples.isEmpty { rows.append(current) }
        return rows
    }

    /// Writes a row's examples into sequence `b` of `acts`, then padding.
    private func fill(_ acts: Activations, at b: Int, _ row: Row, from examples: [TokenizedExample]) {
        let seq = sequenceLength, base = b * seq
        var offset = 0
        for index in row.examples {
            let example = examples[index]
            for t in 0..<example.positions {
                acts.tokens[base + offset + t] = example.tokens[t]
                acts.targets[base + offset + t] = example.learned[t + 1] ? example.tokens[t + 1] : -1
                acts.segmentStarts[base + offset + t] = Int32(offset)
            }
            offset += example.positions
        }
        // Padding continues the last example's segment; its targets are masked.
        let last = Int32(offset - (row.examples.last.map { examples[$0].positions } ?? 0))
        for t in offset..<seq {
            acts.tokens[base + t] = padding
            acts.targets[base + t] = -1
            acts.segmentStarts[base + t] = last
        }
    }
}
