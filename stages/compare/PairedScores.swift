import Foundation
import PipeKit
import TokenScoring

/// Two models' losses on the same predictions, summed in consecutive blocks of positions, and
/// the difference of their bits per byte with a seeded paired block-bootstrap interval: blocks
/// (not single tokens, which are correlated with their neighbours) are resampled with
/// replacement, the same blocks for both models.
struct PairedScores {
    /// One block: each model's summed loss (nats) and the block's text bytes.
    struct Block {
        var champion = 0.0
        var challenger = 0.0
        var bytes = 0
    }

    let blocks: [Block]

    /// Blocks of `blockSize` predictions from two equally long per-prediction loss lists.
    init(champion: [Double], challenger: [Double], bytes: [Int], blockSize: Int) {
        precondition(champion.count == challenger.count && champion.count == bytes.count && blockSize > 0)
        var blocks: [Block] = []
        for start in stride(from: 0, to: champion.count, by: blockSize) {
            var block = Block()
            for i in start..<min(start + blockSize, champion.count) {
                block.champion += champion[i]
                block.challenger += challenger[i]
                block.bytes += bytes[i]
            }
            blocks.append(block)
        }
        self.blocks = blocks
    }

    /// Bits per byte of each model over the chosen blocks (each index once per appearance).
    static func bitsPerByte(_ blocks: [Block], _ indices: some Sequence<Int>) -> (champion: Double, challenger: Double) {
        var champion = 0.0, challenger = 0.0, bytes = 0
        for i in indices {
            champion += blocks[i].champion
            challenger += blocks[i].challenger
            bytes += blocks[i].bytes
        }
        let scale = 1 / (log(2) * Double(max(bytes, 1)))
        return (champion * scale, challenger * scale)
    }

    /// The bits per byte of both models over every block.
    var bitsPerByte: (champion: Double, challenger: Double) { Self.bitsPerByte(blocks, blocks.indices) }

    /// The percentile interval of challenger − champion bits per byte at `confidence` (`resamples`
    /// is positive, so the quantiles exist).
    func differenceInterval(resamples: Int, confidence: Double, seed: UInt64) -> ClosedRange<Double> {
        var rng = SplitMix64.keyed("paired bootstrap", seed: seed)
        var differences: [Double] = []
        differences.reserveCapacity(resamples)
        var picks = [Int](repeating: 0, count: blocks.count)
        for _ in 0..<resamples {
            for j in picks.indices { picks[j] = Int(rng.next() % UInt64(blocks.count)) }
            let (champion, challenger) = Self.bitsPerByte(blocks, picks)
            differences.append(challenger - champion)
        }
        differences.sort()
        let tail = (1 - confidence) / 2
        return differences.sortedQuantile(tail)!...differences.sortedQuantile(1 - tail)!
    }
}
