import CBLAS
import CTrainKernels
import Foundation
import Transformer

/// A run of consecutive tokens of one sequence inside a batch: rows `firstRow..<firstRow+count`
/// of the batch sit at positions `startPosition...` of `cache`.
struct BatchChunk {
    let cache: KVCache
    let firstRow: Int
    let count: Int
    let startPosition: Int
}

/// One forward pass over a batch of tokens from any number of sequences: prompt chunks and
/// single decode tokens together, every product batched over all rows.
///
/// Shapes (T = rows in the batch, C = dim, KV = kvDim, F = ffnDim, V = vocab, L = logit rows):
/// x, norm, att [T, C]; qkv [T, C + 2 KV]; gateUp [T, 2F]; mlp [T, F]; logits [L, V].
/// Buffers are allocated once for `maxRows` rows and `maxLogitRows` logit rows.
final class BatchForward {
    let weights: ModelWeights
    let team: ThreadTeam
    let maxRows: Int
    let maxLogitRows: Int
    private let x, norm, qkv, att, gateUp, mlp, rstd, headRstd, headInput, logits: FloatBuffer
    private let activations: UnsafeMutableRawPointer
    private let projection: Projection
    private let attention: CausalAttention
    private let rotary: RotaryTables

    init(weights: ModelWeights, team: ThreadTeam, maxRows: Int, maxLogitRows: Int) {
        let c = weights.config
        self.weights = weights
        self.team = team
        self.maxRows = maxRows
        self.maxLogitRows = maxLogitRows
        x = FloatBuffer(count: maxRows * c.dim)
        norm = FloatBuffer(count: maxRows * c.dim)
        qkv = FloatBuffer(count: maxRows * (c.dim + 2 * c.kvDim))
        att = FloatBuffer(count: maxRows * c.dim)
        gateUp = FloatBuffer(count: maxRows * 2 * c.ffnDim)
        mlp = FloatBuffer(count: maxRows * c.ffnDim)
        rstd = FloatBuffer(count: maxRows)
        headRstd = FloatBuffer(count: c.heads + c.kvHeads)
        headInput = FloatBuffer(count: maxLogitRows * c.dim)
        logits = FloatBuffer(count: maxLogitRows * c.vocabSize)
        activations = UnsafeMutableRawPointer.allocate(byteCount: Projection.scratchBytes(maxRows: maxRows, maxColumns: max(c.dim, c.ffnDim)),
                                                       alignment: 64)
        projection = Projection(team: team, scratch: activations)
        attention = CausalAttention(config: c, team: team)
        rotary = RotaryTables(c, layout: weights.rotary, angles: weights.rotaryAngles)
    }

    deinit { activations.deallocate() }

    /// Runs `tokens` (rows in chunk order) through the model, writing each row's keys and values
    /// into its chunk's cache, and returns the logits of `logitRows` (row indices, at most
    /// `maxLogitRows`), one row of `vocab` floats each, in that order.
    func run(tokens: [Int32], chunks: [BatchChunk], logitRows: [Int]) -> UnsafeMutablePointer<Float> {
        let c = weights.config, n = tokens.count, width = c.dim + 2 * c.kvDim, eps = Float(c.normEps)
        precondition(n > 0 && n <= maxRows && logitRows.count <= maxLogitRows)
        var positions = [Int](repeating: 0, count: n)
        for chunk in chunks { for i in 0..<chunk.count { positions[chunk.firstRow + i] = chunk.startPosition + i } }

        for (row, token) in tokens.enumerated() { weights.embedding.decodeRow(Int(token), into: x.pointer + row * c.dim) }
        for (l, layer) in weights.layers.enumerated() {
            normalize(n, layer.inputNorm, eps)
            projection.run(norm.pointer, rows: n, layer.qkv, into: qkv.pointer, ldy: width)
            if let queryNorm = layer.queryNorm, let keyNorm = layer.keyNorm { normalizeHeads(n, queryNorm, keyNorm) }
            rotate(n, positions: positions)
            for chunk in chunks {
                for i in 0..<chunk.count {
                    let row = qkv.pointer + (chunk.firstRow + i) * width, at = (chunk.startPosition + i) * c.kvDim
                    (chunk.cache.keys(l) + at).update(from: row + c.dim, count: c.kvDim)
                    (chunk.cache.values(l) + at).update(from: row + c.dim + c.kvDim, count: c.kvDim)
                }
            }
            attention.run(queries: qkv.pointer, queryStride: width, chunks: chunks, layer: l, into: att.pointer)
            projection.run(att.pointer, rows: n, [layer.output], into: x.pointer, ldy: c.dim, accumulate: true)
            normalize(n, layer.postNorm, eps)
            projection.run(norm.pointer, rows: n, layer.gateUp, into: gateUp.pointer, ldy: 2 * c.ffnDim)
            if n < 2 * team.count {
                tk_swiglu_forward(mlp.pointer, gateUp.pointer, n, c.ffnDim)
            } else {
                team.split(n) { rows in
                    tk_swiglu_forward(self.mlp.pointer + rows.lowerBound * c.ffnDim, self.gateUp.pointer + rows.lowerBound * 2 * c.ffnDim,
                                      rows.count, c.ffnDim)
                }
            }
            projection.run(mlp.pointer, rows: n, [layer.down], into: x.pointer, ldy: c.dim, accumulate: true)
        }
        guard !logitRows.isEmpty else { return logits.pointer }
        for (i, row) in logitRows.enumerated() { (headInput.pointer + i * c.dim).update(from: x.pointer + row * c.dim, count: c.dim) }
        tk_rmsnorm_forward(headInput.pointer, rstd.pointer, headInput.pointer, weights.finalNorm, logitRows.count, c.dim, eps)
        projection.run(headInput.pointer, rows: logitRows.count, [weights.head], into: logits.pointer, ldy: c.vocabSize)
        return logits.pointer
    }

    /// norm = rmsnorm(x) · w for the first `n` rows.
    private func normalize(_ n: Int, _ w: UnsafePointer<Float>, _ eps: Float) {
        let dim = weights.config.dim
        if n < 2 * team.count {
            tk_rmsnorm_forward(norm.pointer, rstd.pointer, x.pointer, w, n, dim, eps)
            return
        }
        team.split(n) { rows in
            let at = rows.lowerBound * dim
            tk_rmsnorm_forward(self.norm.pointer + at, self.rstd.pointer + rows.lowerBound, self.x.pointer + at, w, rows.count, dim, eps)
        }
    }

    /// QK-norm: each row's query heads and key heads RMS-normalized in place.
    private func normalizeHeads(_ n: Int, _ queryNorm: UnsafePointer<Float>, _ keyNorm: UnsafePointer<Float>) {
        let c = weights.config, width = c.dim + 2 * c.kvDim
        for row in 0..<n {
            let q = qkv.pointer + row * width
            QueryKeyNorm.forward(q, from: q, rstd: headRstd.pointer, queryWeight: queryNorm, keyWeight: keyNorm, c)
        }
    }

    /// RoPE on each row's query and key heads at the row's position.
    private func rotate(_ n: Int, positions: [Int]) {
        let c = weights.config, width = c.dim + 2 * c.kvDim
        for row in 0..<n {
            let q = qkv.pointer + row * width
            rotary.apply(q, heads: c.heads, position: positions[row])
            rotary.apply(q + c.dim, heads: c.kvHeads, position: positions[row])
        }
    }
}

/// RoPE's cos and sin by [position][i] (i < headDim / 2), and the rotation in the weights'
/// layout. The tables are training's (`TransformerModel.ropeTables`), or, for GGUF files, computed
/// as llama.cpp computes them (`ggml_rope_cache_init`: a float angle multiplied by
/// powf(base, -2 / headDim) at each step, float cosf and sinf), so a GGUF model rotates exactly
/// as it does under llama.cpp.
struct RotaryTables {
    let headDim: Int
    let layout: RotaryLayout
    let cos: [Float]
    let sin: [Float]

    init(_ c: ModelConfig, layout: RotaryLayout, angles: RotaryAngles) {
        headDim = c.headDim
        self.layout = layout
        switch angles {
        case .training:
            (cos, sin) = TransformerModel.ropeTables(c)
        case .llamaCpp:
            let half = c.headDim / 2, scale = powf(Float(c.ropeTheta), -2 / Float(c.headDim))
            var cos = [Float](repeating: 0, count: c.context * half), sin = cos
            for t in 0..<c.context {
                var theta = Float(t)
                for i in 0..<half {
                    cos[t * half + i] = cosf(theta)
                    sin[t * half + i] = sinf(theta)
                    theta *= scale
                }
            }
            (self.cos, self.sin) = (cos, sin)
        }
    }

    /// Rotates `heads` consecutive heads of `headDim` floats at `position`.
    func apply(_ x: UnsafeMutablePointer<Float>, heads: Int, position: Int) {
        let half = headDim / 2
        cos.withUnsafeBufferPointer { cos in
            sin.withUnsafeBufferPointer { sin in
                switch layout {
                case .halves:
                    tk_rope(x, 1, heads * headDim, heads, headDim, position, cos.baseAddress, sin.baseAddress, 0)
                case .pairs:
                    let c = cos.baseAddress! + position * half, s = sin.baseAddress! + position * half
                    for h in 0..<heads {
                        let v = x + h * headDim
                        for i in 0..<half {
                            let a = v[2 * i], b = v[2 * i + 1]
                            v[2 * i] = a * c[i] - b * s[i]
                            v[2 * i + 1] = b * c[i] + a * s[i]
                        }
                    }
                }
            }
        }
    }
}
