import Foundation
import PipeKit
import Transformer

/// Small configurations that exercise every path: tied and untied heads, grouped KV heads, and
/// a sequence longer than one attention block.
enum TinyModels {
    static let grouped = ModelConfig(vocabSize: 37, dim: 16, layers: 2, heads: 4, kvHeads: 2, ffnDim: 32, context: 12,
                                     normEps: 1e-5, tieEmbeddings: false)
    static let tied = ModelConfig(vocabSize: 29, dim: 16, layers: 2, heads: 2, kvHeads: 2, ffnDim: 32, context: 10,
                                  normEps: 1e-5, tieEmbeddings: true)
    /// Grouped KV heads with QK-norm (Qwen3's attention).
    static let queryKeyNormed = ModelConfig(vocabSize: 31, dim: 16, layers: 2, heads: 4, kvHeads: 2, ffnDim: 32, context: 12,
                                            normEps: 1e-5, tieEmbeddings: false, qkNorm: true)
    static let longSequence = ModelConfig(vocabSize: 23, dim: 8, layers: 1, heads: 2, kvHeads: 1, ffnDim: 32, context: 80,
                                          normEps: 1e-5, tieEmbeddings: true)

    /// A model with seeded weights, norms perturbed away from 1 so their gradients matter.
    static func model(_ config: ModelConfig, seed: UInt64 = 7, scale: Float = 1) -> TransformerModel {
        let model = TransformerModel(config: config)
        model.initialize(seed: seed)
        var rng = SplitMix64(seed: seed)
        for t in model.layout.tensors {
            for i in 0..<t.count {
                let p = model.parameters.pointer + t.offset + i
                p.pointee = t.isNorm ? 1 + Float(rng.nextUnit() - 0.5) * 0.4 : p.pointee * 10 * scale
            }
        }
        return model
    }

    /// Activations holding `batch` seeded sequences of `seq` tokens and their next tokens.
    static func batch(_ config: ModelConfig, batch: Int, seq: Int, workers: Int, seed: UInt64 = 3,
                      checkpointing: Bool = false, training: Bool = true) -> Activations
    {
        let acts = Activations(config: config, batch: batch, seq: seq, workers: Workers(workers), training: training,
                               checkpointing: checkpointing)
        var rng = SplitMix64(seed: seed)
        for b in 0..<batch {
            let row = (0...seq).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
            for t in 0..<seq {
                acts.tokens[b * seq + t] = row[t]
                acts.targets[b * seq + t] = row[t + 1]
            }
        }
        return acts
    }

    /// The token rows as the reference script reads them: int32 [batch, seq + 1].
    static func referenceBatch(_ acts: Activations) -> Data {
        var values: [Int32] = []
        for b in 0..<acts.batch {
            for t in 0..<acts.seq { values.append(acts.tokens[b * acts.seq + t]) }
            values.append(acts.targets[b * acts.seq + acts.seq - 1])
        }
        return values.withUnsafeBytes { Data($0) }
    }
}
