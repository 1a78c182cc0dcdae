import CBLAS
import Foundation
import PipeKit
import Support
import Transformer

/// Low-rank adapters (LoRA) on chosen weight matrices: each W becomes W₀ + (alpha / rank)·B·A,
/// with W₀ frozen, A [rank, in] drawn small and B [out, rank] zero, so training starts from the
/// pretrained model exactly.
///
/// The model always holds the merged weights: `apply` writes W₀ + s·B·A into it before a
/// forward pass, so the forward and backward passes are the model's own, and the adapters'
/// gradients follow from the merged weight's gradient G by the chain rule: dB = s·G·Aᵀ and
/// dA = s·Bᵀ·G. Training therefore costs what full fine-tuning costs in time (the full weight
/// gradient is computed), but AdamW's moments exist only for A and B, and at the end the model
/// simply is the merged form, which exports like any other.
public final class LoRAAdapters {
    /// One adapted matrix: where it lives in the model, its shape, where A and B live in
    /// `values` and where W₀ lives in `frozen`.
    struct Adapter {
        let name: String
        let weight: Int
        let rows: Int
        let columns: Int
        let a: Int
        let b: Int
        let frozen: Int
    }

    /// The matrices an adapter can target, by their short Hugging Face names.
    public static let targetNames = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]

    public let rank: Int
    public let scale: Float
    /// A and B of every adapter, one after another (what the optimizer updates).
    public let values: FloatBuffer
    /// The adapters' tensors in `values`, for the optimizer (all decay like weights).
    public let tensors: [ParameterLayout.Tensor]
    let adapters: [Adapter]
    /// W₀ of every adapted matrix, one after another.
    private let frozen: FloatBuffer

    /// Adapters of `rank` on the matrices named by `targets` in every layer; A is seeded.
    public init(model: TransformerModel, rank: Int, alpha: Double, targets: [String], seed: UInt64) {
        self.rank = rank
        scale = Float(alpha / Double(rank))
        var adapters: [Adapter] = [], tensors: [ParameterLayout.Tensor] = []
        var offset = 0, frozenCount = 0
        for t in model.layout.tensors {
            guard let short = t.name.split(separator: ".").dropLast().last.map(String.init), targets.contains(short), t.shape.count == 2 else {
                continue
            }
            let (rows, columns) = (t.shape[0], t.shape[1])
            let name = t.name.replacingOccurrences(of: ".weight", with: "")
            tensors.append(ParameterLayout.Tensor(name: name + ".lora_A.weight", shape: [rank, columns], offset: offset))
            tensors.append(ParameterLayout.Tensor(name: name + ".lora_B.weight", shape: [rows, rank], offset: offset + rank * columns))
            adapters.append(Adapter(name: name, weight: t.offset, rows: rows, columns: columns, a: offset, b: offset + rank * columns,
                                    frozen: frozenCount))
            offset += rank * (columns + rows)
            frozenCount += rows * columns
        }
        self.adapters = adapters
        self.tensors = tensors
        values = FloatBuffer(count: offset)
        frozen = FloatBuffer(count: frozenCount)
        for adapter in adapters {
            (frozen.pointer + adapter.frozen).update(from: model.parameters.pointer + adapter.weight, count: adapter.rows * adapter.columns)
        }
        // A as PEFT draws it (Kaiming-uniform with a = √5: U(-1/√in, 1/√in)); B stays zero.
        var rng = SplitMix64(seed: seed)
        for adapter in adapters {
            let bound = 1 / Double(adapter.columns).squareRoot()
            for i in 0..<rank * adapter.columns { values.pointer[adapter.a + i] = Float((2 * rng.nextUnit() - 1) * bound) }
        }
    }

    /// Parameters the adapters train.
    public var count: Int { values.count }

    /// Writes W₀ + s·B·A into each adapted matrix of the model.
    public func apply(to model: TransformerModel, workers: Workers) {
        workers.split(adapters.count) { range in
            for i in range {
                let adapter = adapters[i], weight = model.parameters.pointer + adapter.weight
                weight.update(from: frozen.pointer + adapter.frozen, count: adapter.rows * adapter.columns)
                BLAS.gemm(transA: false, transB: false, m: adapter.rows, n: adapter.columns, k: rank, alpha: scale,
                          a: values.pointer + adapter.b, lda: rank, b: values.pointer + adapter.a, ldb: adapter.columns,
                          beta: 1, c: weight, ldc: adapter.columns)
            }
        }
    }

    /// The adapters' gradients from the model's: dB = s·G·Aᵀ, dA = s·Bᵀ·G for each matrix's G.
    public func gradients(from model: FloatBuffer, into out: FloatBuffer, workers: Workers) {
        workers.split(adapters.count) { range in
            for i in range {
                let adapter = adapters[i], g = model.pointer + adapter.weight
                BLAS.gemm(transA: false, transB: true, m: adapter.rows, n: rank, k: adapter.columns, alpha: scale,
                          a: g, lda: adapter.columns, b: values.pointer + adapter.a, ldb: adapter.columns,
                          beta: 0, c: out.pointer + adapter.b, ldc: rank)
                BLAS.gemm(transA: true, transB: false, m: rank, n: adapter.columns, k: adapter.rows, alpha: scale,
                          a: values.pointer + adapter.b, lda: rank, b: g, ldb: adapter.columns,
                          beta: 0, c: out.pointer + adapter.a, ldc: adapter.columns)
            }
        }
    }
}
