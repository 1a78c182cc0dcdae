import CTrainKernels
import Foundation
import Support

/// A LLaMA-style decoder: its shape, its weights in one contiguous buffer, and the explicit
/// forward and backward passes over a batch (no autograd; the order of operations is fixed,
/// so results are deterministic for a given worker count and BLAS kernel).
public final class TransformerModel: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    /// RoPE tables, [position][headDim / 2].
    let ropeCos: [Float]
    let ropeSin: [Float]

    public init(config: ModelConfig) {
        self.config = config
        layout = ParameterLayout(config)
        parameters = FloatBuffer(count: layout.count)
        (ropeCos, ropeSin) = Self.ropeTables(config)
    }

    /// RoPE's cos and sin by [position][i] (i < headDim / 2), angles in double precision.
    public static func ropeTables(_ config: ModelConfig) -> (cos: [Float], sin: [Float]) {
        let half = config.headDim / 2
        var cos = [Float](repeating: 0, count: config.context * half), sin = cos
        for t in 0..<config.context {
            for i in 0..<half {
                let angle = Double(t) * pow(config.ropeTheta, -Double(2 * i) / Double(config.headDim))
                cos[t * half + i] = Float(Foundation.cos(angle))
                sin[t * half + i] = Float(Foundation.sin(angle))
            }
        }
        return (cos, sin)
    }

    /// GPT-2's initialization: weights ~ N(0, 0.02), the projections into the residual stream
    /// scaled by 1/√(2·layers), norms at 1; or those projections at zero, so every block starts
    /// as the identity (`zeroResidualProjections`, as modded-nanogpt starts). Seeded, so the
    /// same seed gives the same model.
    public func initialize(seed: UInt64, zeroResidualProjections: Bool = false) {
        var rng = NormalSampler(seed: seed)
        let residualStd = 0.02 / (2.0 * Double(config.layers)).squareRoot()
        for t in layout.tensors {
            let p = parameters.pointer + t.offset
            if t.isNorm {
                p.update(repeating: 1, count: t.count)
                continue
            }
            let isResidualProjection = t.name.hasSuffix("o_proj.weight") || t.name.hasSuffix("down_proj.weight")
            let std = isResidualProjection ? residualStd : 0.02
            // The draws are made either way, so every other tensor starts the same.
            let zero = isResidualProjection && zeroResidualProjections
            for i in 0..<t.count {
                let value = Float(rng.next() * std)
                p[i] = zero ? 0 : value
            }
        }
    }

    /// A copy whose vocabulary has `size` tokens (at least today's): the embedding rows (and
    /// the untied head's) of the new tokens start as the mean of the existing rows, so a new
    /// special token begins as an average token rather than noise or zero.
    public func growingVocabulary(to size: Int) -> TransformerModel {
        precondition(size >= config.vocabSize, "a vocabulary only grows")
        var grown = config
        grown.vocabSize = size
        let model = TransformerModel(config: grown)
        let old = config.vocabSize, dim = config.dim
        for (mine, theirs) in zip(layout.tensors, model.layout.tensors) {
            let from = parameters.pointer + mine.offset, to = model.parameters.pointer + theirs.offset
            to.update(from: from, count: mine.count)
            guard mine.isEmbedding, size > old else { continue }
            var mean = [Double](repeating: 0, count: dim)
            for row in 0..<old { for i in 0..<dim { mean[i] += Double(from[row * dim + i]) } }
            for row in old..<size { for i in 0..<dim { to[row * dim + i] = Float(mean[i] / Double(old)) } }
        }
        return model
    }

    // MARK: Forward

    /// Runs the model over `acts.tokens` and returns the summed cross-entropy against
    /// `acts.targets`. With `gradients`, it also runs the backward pass, adding each weight's
    /// gradient of (summed loss × gradScale) into `gradients`. With `perRow`, fills
    /// `acts.rowLosses` and `acts.ranks`.
    /// With a `teacher`, the loss is the distillation mix of its logits and the targets.
    @discardableResult
    public func run(_ acts: Activations, gradients: FloatBuffer? = nil, gradScale: Float = 1, perRow: Bool = false,
                    teacher: Teacher? = nil) -> Double
    {
        precondition(gradients == nil || acts.training, "activations were allocated for inference")
        if let teacher {
            teacher.acts.tokens.update(from: acts.tokens, count: acts.rows)
            teacher.model.forwardToFinalNorm(teacher.acts)
        }
        forwardToFinalNorm(acts)
        let loss = head(acts, gradients: gradients, gradScale: gradScale, perRow: perRow, teacher: teacher)
        if let gradients { backward(acts, gradients) }
        return loss
    }

    /// The logits of every row of `acts.tokens`, into `out` ([rows, vocabulary]).
    public func logits(_ acts: Activations, into out: UnsafeMutablePointer<Float>) {
        forwardToFinalNorm(acts)
        BLAS.linear(out, acts.finalNorm.pointer, parameters.pointer + layout.head, rows: acts.rows, out: config.vocabSize,
                    in: config.dim, workers: acts.workers)
    }

    func forwardToFinalNorm(_ acts: Activations) {
        embed(acts)
        for l in 0..<config.layers { forwardLayer(l, acts) }
        let c = config, rows = acts.rows
        let last = acts.residual.pointer + c.layers * rows * c.dim
        let normWeight = parameters.pointer + layout.finalNorm
        acts.workers.split(rows) { r in
            tk_rmsnorm_forward(acts.finalNorm.pointer + r.lowerBound * c.dim, acts.finalRstd.pointer + r.lowerBound,
                               last + r.lowerBound * c.dim, normWeight, r.count, c.dim, Float(c.normEps))
        }
    }

    private func embed(_ acts: Activations) {
        let dim = config.dim, table = parameters.pointer + layout.embedding
        let out = acts.residual.pointer
        for r in 0..<acts.rows {
            (out + r * dim).update(from: table + Int(acts.tokens[r]) * dim, count: dim)
        }
    }

    private func forwardLayer(_ l: Int, _ acts: Activations) {
        let c = config, rows = acts.rows, w = acts.workers, s = acts.slots(forLayer: l), weights = layout.layers[l]
        let p = parameters.pointer, a = acts.storage.pointer
        let input = acts.residual.pointer + l * rows * c.dim
        let output = acts.residual.pointer + (l + 1) * rows * c.dim
        let qkvWidth = acts.attention.qkvWidth
        w.split(rows) { r in
            tk_rmsnorm_forward(a + s.norm1 + r.lowerBound * c.dim, a + s.rstd1 + r.lowerBound, input + r.lowerBound * c.dim,
                               p + weights.inputNorm, r.count, c.dim, Float(c.normEps))
        }
        BLAS.linear(a + s.qkv, a + s.norm1, p + weights.qkv, rows: rows, out: qkvWidth, in: c.dim, workers: w)
        if let qkNorm = weights.qkNorm { normalizeQueriesAndKeys(acts, s, weight: p + qkNorm) }
        rotate(a + s.qkv, acts, inverse: false)
        acts.attention.forward(qkv: a + s.qkv, starts: acts.segmentStarts, probabilities: a + s.probabilities, out: a + s.attention, workers: w)
        (a + s.middle).update(from: input, count: rows * c.dim)
        BLAS.linear(a + s.middle, a + s.attention, p + weights.output, rows: rows, out: c.dim, in: c.dim, accumulate: true, workers: w)
        w.split(rows) { r in
            tk_rmsnorm_forward(a + s.norm2 + r.lowerBound * c.dim, a + s.rstd2 + r.lowerBound, a + s.middle + r.lowerBound * c.dim,
                               p + weights.postNorm, r.count, c.dim, Float(c.normEps))
        }
        BLAS.linear(a + s.gateUp, a + s.norm2, p + weights.gateUp, rows: rows, out: 2 * c.ffnDim, in: c.dim, workers: w)
        w.split(rows) { r in
            tk_swiglu_forward(a + s.mlp + r.lowerBound * c.ffnDim, a + s.gateUp + r.lowerBound * 2 * c.ffnDim, r.count, c.ffnDim)
        }
        output.update(from: a + s.middle, count: rows * c.dim)
        BLAS.linear(output, a + s.mlp, p + weights.down, rows: rows, out: c.dim, in: c.ffnDim, accumulate: true, workers: w)
    }

    /// QK-norm: RMS-normalizes each query and key head of the packed qkv rows in place (the
    /// query heads with the weight at `weight`, the key heads with the one after it); training
    /// keeps the inputs and each head's reciprocal RMS for the backward pass.
    private func normalizeQueriesAndKeys(_ acts: Activations, _ s: Activations.LayerSlots, weight: UnsafePointer<Float>) {
        let c = config, a = acts.storage.pointer, width = acts.attention.qkvWidth
        let queryKeyWidth = c.dim + c.kvDim, heads = c.heads + c.kvHeads
        acts.workers.split(acts.rows) { rows in
            for row in rows {
                let x = a + s.qkv + row * width
                let kept = acts.training ? a + s.queryKeyInput + row * queryKeyWidth : x
                if acts.training { kept.update(from: x, count: queryKeyWidth) }
                QueryKeyNorm.forward(x, from: kept, rstd: a + s.queryKeyRstd + row * heads, queryWeight: weight,
                                     keyWeight: weight + c.headDim, c)
            }
        }
    }

    /// QK-norm's backward: turns the q and k parts of `acts.dQKV` (gradients after the norm)
    /// into gradients before it, and adds the two norm weights' gradients at `weight`.
    private func normalizeQueriesAndKeysBackward(_ acts: Activations, _ s: Activations.LayerSlots, weight: Int, _ gradients: FloatBuffer) {
        let c = config, w = acts.workers, a = acts.storage.pointer, width = acts.attention.qkvWidth, hd = c.headDim
        let queryKeyWidth = c.dim + c.kvDim, heads = c.heads + c.kvHeads, wp = parameters.pointer + weight
        acts.workerQueryKeyNormGradient.zero()
        w.run { worker in
            let before = acts.workerQueryKeyGradient.pointer + worker * queryKeyWidth
            let partial = acts.workerQueryKeyNormGradient.pointer + worker * 2 * hd
            for row in w.range(worker, of: acts.rows) {
                let after = acts.dQKV.pointer + row * width, input = a + s.queryKeyInput + row * queryKeyWidth
                let rstd = a + s.queryKeyRstd + row * heads
                before.update(repeating: 0, count: queryKeyWidth)
                tk_rmsnorm_backward(before, partial, after, input, wp, rstd, c.heads, hd)
                tk_rmsnorm_backward(before + c.dim, partial + hd, after + c.dim, input + c.dim, wp + hd, rstd + c.heads, c.kvHeads, hd)
                after.update(from: before, count: queryKeyWidth)
            }
        }
        for worker in 0..<w.count { tk_add(gradients.pointer + weight, acts.workerQueryKeyNormGradient.pointer + worker * 2 * hd, 2 * hd) }
    }

    /// Applies RoPE to the q and k parts of packed qkv rows (or undoes it, for gradients); the
    /// positions restart at 0 at each example's first row.
    private func rotate(_ qkv: UnsafeMutablePointer<Float>, _ acts: Activations, inverse: Bool) {
        let c = config, width = acts.attention.qkvWidth, seq = acts.seq
        ropeCos.withUnsafeBufferPointer { cos in
            ropeSin.withUnsafeBufferPointer { sin in
                acts.workers.split(acts.batch) { sequences in
                    for b in sequences {
                        let starts = acts.segmentStarts + b * seq
                        var first = 0
                        while first < seq {
                            var end = first + 1
                            while end < seq, starts[end] != Int32(end) { end += 1 }
                            let rows = qkv + (b * seq + first) * width
                            tk_rope(rows, end - first, width, c.heads, c.headDim, 0, cos.baseAddress, sin.baseAddress, inverse ? 1 : 0)
                            tk_rope(rows + c.dim, end - first, width, c.kvHeads, c.headDim, 0, cos.baseAddress, sin.baseAddress, inverse ? 1 : 0)
                            first = end
                        }
                    }
                }
            }
        }
    }

    /// The LM head and the loss, fused: each worker takes its rows a block at a time, computes
    /// the block's logits, turns them into loss and (training) logit gradients in place, and
    /// immediately pushes those back through the head, so the full logits never exist at once.
    private func head(_ acts: Activations, gradients: FloatBuffer?, gradScale: Float, perRow: Bool, teacher: Teacher?) -> Double {
        let c = config, rows = acts.rows, w = acts.workers, vocab = c.vocabSize
        let headWeight = parameters.pointer + layout.head
        let training = gradients != nil
        if training {
            acts.workerHeadGradient.zero()
        }
        var losses = [Double](repeating: 0, count: w.count)
        losses.withUnsafeMutableBufferPointer { losses in
            w.run { worker in
                let mine = w.range(worker, of: rows)
                let logits = acts.logits.pointer + worker * Activations.headRows * vocab
                var total = 0.0
                for start in stride(from: mine.lowerBound, to: mine.upperBound, by: Activations.headRows) {
                    let n = min(Activations.headRows, mine.upperBound - start)
                    let x = acts.finalNorm.pointer + start * c.dim
                    BLAS.gemm(transA: false, transB: true, m: n, n: vocab, k: c.dim, a: x, lda: c.dim,
                              b: headWeight, ldb: c.dim, beta: 0, c: logits, ldc: vocab)
                    if let teacher {
                        let teacherLogits = teacher.acts.logits.pointer + worker * Activations.headRows * vocab
                        BLAS.gemm(transA: false, transB: true, m: n, n: vocab, k: teacher.model.config.dim,
                                  a: teacher.acts.finalNorm.pointer + start * teacher.model.config.dim, lda: teacher.model.config.dim,
                                  b: teacher.model.parameters.pointer + teacher.model.layout.head, ldb: teacher.model.config.dim,
                                  beta: 0, c: teacherLogits, ldc: vocab)
                        total += tk_distillation(logits, teacherLogits, acts.targets + start, n, vocab, teacher.temperature, teacher.alpha,
                                                 training ? gradScale : 0)
                    } else {
                        total += tk_cross_entropy(logits, acts.targets + start, n, vocab, training ? gradScale : 0,
                                                  perRow ? acts.ranks + start : nil, perRow ? acts.rowLosses + start : nil)
                    }
                    guard training else { continue }
                    BLAS.gemm(transA: false, transB: false, m: n, n: c.dim, k: vocab, a: logits, lda: vocab,
                              b: headWeight, ldb: c.dim, beta: 0, c: acts.dNorm.pointer + start * c.dim, ldc: c.dim)
                    BLAS.gemm(transA: true, transB: false, m: vocab, n: c.dim, k: n, a: logits, lda: vocab,
                              b: x, ldb: c.dim, beta: 1, c: acts.workerHeadGradient.pointer + worker * vocab * c.dim, ldc: c.dim)
                }
                losses[worker] = total
            }
        }
        if let gradients {
            let g = gradients.pointer + layout.head, count = vocab * c.dim
            w.split(count) { r in
                for worker in 0..<w.count {
                    tk_add(g + r.lowerBound, acts.workerHeadGradient.pointer + worker * count + r.lowerBound, r.count)
                }
            }
        }
        return losses.reduce(0, +)
    }

    // MARK: Backward

    private func backward(_ acts: Activations, _ gradients: FloatBuffer) {
        let c = config, rows = acts.rows
        let g = gradients.pointer
        let last = acts.residual.pointer + c.layers * rows * c.dim
        acts.dResidual.zero()
        normBackward(acts, dOut: acts.dNorm.pointer, input: last, rstd: acts.finalRstd.pointer,
                     weight: layout.finalNorm, gradients: gradients)
        for l in stride(from: c.layers - 1, through: 0, by: -1) {
            if acts.checkpointing { forwardLayer(l, acts) }
            backwardLayer(l, acts, gradients)
        }
        // The embedding rows of the batch's tokens collect the residual gradient.
        let table = g + layout.embedding, dx = acts.dResidual.pointer
        for r in 0..<rows {
            tk_add(table + Int(acts.tokens[r]) * c.dim, dx + r * c.dim, c.dim)
        }
    }

    /// dResidual += RMSNorm's input gradient; the weight's gradient is added to `gradients`.
    private func normBackward(_ acts: Activations, dOut: UnsafePointer<Float>, input: UnsafePointer<Float>,
                              rstd: UnsafePointer<Float>, weight: Int, gradients: FloatBuffer)
    {
        let c = config, w = acts.workers, dim = c.dim
        let partial = acts.workerNormGradient.pointer
        acts.workerNormGradient.zero()
        let wp = parameters.pointer + weight, dx = acts.dResidual.pointer
        w.run { worker in
            let r = w.range(worker, of: acts.rows)
            guard !r.isEmpty else { return }
            tk_rmsnorm_backward(dx + r.lowerBound * dim, partial + worker * dim, dOut + r.lowerBound * dim,
                                input + r.lowerBound * dim, wp, rstd + r.lowerBound, r.count, dim)
        }
        for worker in 0..<w.count { tk_add(gradients.pointer + weight, partial + worker * dim, dim) }
    }

    private func backwardLayer(_ l: Int, _ acts: Activations, _ gradients: FloatBuffer) {
        let c = config, rows = acts.rows, w = acts.workers, s = acts.slots(forLayer: l), weights = layout.layers[l]
        let p = parameters.pointer, g = gradients.pointer, a = acts.storage.pointer
        let input = acts.residual.pointer + l * rows * c.dim
        let dx = acts.dResidual.pointer, qkvWidth = acts.attention.qkvWidth
        // MLP: out = middle + down(swiglu(gateUp(norm2(middle)))).
        BLAS.linearInputGradient(acts.dMLP.pointer, dx, p + weights.down, rows: rows, out: c.dim, in: c.ffnDim, workers: w)
        BLAS.linearWeightGradient(g + weights.down, dx, a + s.mlp, rows: rows, out: c.dim, in: c.ffnDim, workers: w)
        w.split(rows) { r in
            tk_swiglu_backward(acts.dGateUp.pointer + r.lowerBound * 2 * c.ffnDim, acts.dMLP.pointer + r.lowerBound * c.ffnDim,
                               a + s.gateUp + r.lowerBound * 2 * c.ffnDim, r.count, c.ffnDim)
        }
        BLAS.linearInputGradient(acts.dNorm.pointer, acts.dGateUp.pointer, p + weights.gateUp, rows: rows, out: 2 * c.ffnDim, in: c.dim, workers: w)
        BLAS.linearWeightGradient(g + weights.gateUp, acts.dGateUp.pointer, a + s.norm2, rows: rows, out: 2 * c.ffnDim, in: c.dim, workers: w)
        normBackward(acts, dOut: acts.dNorm.pointer, input: a + s.middle, rstd: a + s.rstd2, weight: weights.postNorm, gradients: gradients)
        // Attention: middle = input + o(attention(rope(qkNorm(qkv(norm1(input)))))), qkNorm when the model has it.
        BLAS.linearInputGradient(acts.dAttention.pointer, dx, p + weights.output, rows: rows, out: c.dim, in: c.dim, workers: w)
        BLAS.linearWeightGradient(g + weights.output, dx, a + s.attention, rows: rows, out: c.dim, in: c.dim, workers: w)
        acts.attention.backward(qkv: a + s.qkv, probabilities: a + s.probabilities, outGradient: acts.dAttention.pointer,
                                qkvGradient: acts.dQKV.pointer, scratch: acts.attentionScratch.pointer, workers: w)
        // Rotating the gradients back gives the gradient of the projection's output before RoPE.
        rotate(acts.dQKV.pointer, acts, inverse: true)
        if let qkNorm = weights.qkNorm { normalizeQueriesAndKeysBackward(acts, s, weight: qkNorm, gradients) }
        BLAS.linearInputGradient(acts.dNorm.pointer, acts.dQKV.pointer, p + weights.qkv, rows: rows, out: qkvWidth, in: c.dim, workers: w)
        BLAS.linearWeightGradient(g + weights.qkv, acts.dQKV.pointer, a + s.norm1, rows: rows, out: qkvWidth, in: c.dim, workers: w)
        normBackward(acts, dOut: acts.dNorm.pointer, input: input, rstd: a + s.rstd1, weight: weights.inputNorm, gradients: gradients)
    }
}

/// Standard normal samples from a seeded SplitMix64 (Box-Muller), the same on every platform.
struct NormalSampler {
    private var uniform: SplitMix64
    private var spare: Double?

    init(seed: UInt64) { uniform = SplitMix64(seed: seed) }

    mutating func next() -> Double {
        if let s = spare { spare = nil; return s }
        let u1 = (Double(uniform.next() >> 11) + 0.5) / Double(1 << 53)
        let r = (-2 * log(u1)).squareRoot(), theta = 2 * Double.pi * uniform.nextUnit()
        spare = r * sin(theta)
        return r * cos(theta)
    }
}

/// A teacher for distillation: its model, activations for the student's batch shape, and the
/// mix (temperature T, weight alpha of the soft targets).
public struct Teacher {
    public let model: TransformerModel
    let acts: Activations
    public let temperature: Float
    public let alpha: Float

    public init(model: TransformerModel, batch: Int, seq: Int, workers: Workers, temperature: Float, alpha: Float) {
        self.model = model
        acts = Activations(config: model.config, batch: batch, seq: seq, workers: workers, training: false)
        self.temperature = temperature
        self.alpha = alpha
    }
}
