import Foundation
import CBLAS
import CTrainKernels
import Support

/// Token-by-token inference with a KV cache: each step runs one new token through the model,
/// attending over the keys and values cached for the earlier ones, and yields the next-token
/// logits. Costs grow linearly with the position instead of quadratically.
public final class Generator {
    public let model: TransformerModel
    /// Tokens fed so far (the next token's position).
    public private(set) var position = 0
    /// Grows (doubling, up to the context) as tokens come, so memory follows the tokens fed,
    /// not the context a model file claims.
    private let cache: KVCache
    private var scores = FloatBuffer(count: 0)
    private let x, norm, qkv, attention, gateUp, mlp, logitBuffer: FloatBuffer
    private let rstd = FloatBuffer(count: 1)
    /// Each head's reciprocal RMS, for QK-norm.
    private let headRstd: FloatBuffer

    public init(model: TransformerModel) {
        self.model = model
        let c = model.config
        x = FloatBuffer(count: c.dim)
        norm = FloatBuffer(count: c.dim)
        qkv = FloatBuffer(count: c.dim + 2 * c.kvDim)
        attention = FloatBuffer(count: c.dim)
        gateUp = FloatBuffer(count: 2 * c.ffnDim)
        mlp = FloatBuffer(count: c.ffnDim)
        logitBuffer = FloatBuffer(count: c.vocabSize)
        headRstd = FloatBuffer(count: c.heads + c.kvHeads)
        cache = KVCache(layers: c.layers, width: c.kvDim, context: c.context)
    }

    /// Makes room in the KV cache for `positions` positions, keeping the cached ones.
    private func reserve(_ positions: Int) {
        cache.reserve(positions, keeping: position)
        if scores.count < cache.capacity { scores = FloatBuffer(count: cache.capacity) }
    }

    /// Forgets every cached token.
    public func reset() { position = 0 }

    /// Room left in the context.
    public var remaining: Int { model.config.context - position }

    /// Feeds `token` at the current position; returns the logits for the token after it.
    @discardableResult
    public func step(_ token: Int32) -> UnsafeBufferPointer<Float> {
        let c = model.config, layout = model.layout, p = model.parameters.pointer
        precondition(position < c.context, "the context of \(c.context) tokens is full")
        precondition(token >= 0 && Int(token) < c.vocabSize, "token \(token) is outside the vocabulary")
        reserve(position + 1)
        x.pointer.update(from: p + layout.embedding + Int(token) * c.dim, count: c.dim)
        let width = c.dim + 2 * c.kvDim, eps = Float(c.normEps)
        for l in 0..<c.layers {
            let w = layout.layers[l]
            tk_rmsnorm_forward(norm.pointer, rstd.pointer, x.pointer, p + w.inputNorm, 1, c.dim, eps)
            gemv(p + w.qkv, rows: width, columns: c.dim, norm.pointer, into: qkv.pointer)
            if let qkNorm = w.qkNorm {
                QueryKeyNorm.forward(qkv.pointer, from: qkv.pointer, rstd: headRstd.pointer, queryWeight: p + qkNorm,
                                     keyWeight: p + qkNorm + c.headDim, c)
            }
            model.ropeCos.withUnsafeBufferPointer { cos in
                model.ropeSin.withUnsafeBufferPointer { sin in
                    tk_rope(qkv.pointer, 1, width, c.heads, c.headDim, position, cos.baseAddress, sin.baseAddress, 0)
                    tk_rope(qkv.pointer + c.dim, 1, width, c.kvHeads, c.headDim, position, cos.baseAddress, sin.baseAddress, 0)
                }
            }
            let layerKeys = cache.keys(l), layerValues = cache.values(l)
            (layerKeys + position * c.kvDim).update(from: qkv.pointer + c.dim, count: c.kvDim)
            (layerValues + position * c.kvDim).update(from: qkv.pointer + c.dim + c.kvDim, count: c.kvDim)
            attend(layerKeys, layerValues)
            gemv(p + w.output, rows: c.dim, columns: c.dim, attention.pointer, into: x.pointer, accumulate: true)
            tk_rmsnorm_forward(norm.pointer, rstd.pointer, x.pointer, p + w.postNorm, 1, c.dim, eps)
            gemv(p + w.gateUp, rows: 2 * c.ffnDim, columns: c.dim, norm.pointer, into: gateUp.pointer)
            tk_swiglu_forward(mlp.pointer, gateUp.pointer, 1, c.ffnDim)
            gemv(p + w.down, rows: c.dim, columns: c.ffnDim, mlp.pointer, into: x.pointer, accumulate: true)
        }
        tk_rmsnorm_forward(norm.pointer, rstd.pointer, x.pointer, p + layout.finalNorm, 1, c.dim, eps)
        gemv(p + layout.head, rows: c.vocabSize, columns: c.dim, norm.pointer, into: logitBuffer.pointer)
        position += 1
        return UnsafeBufferPointer(start: logitBuffer.pointer, count: c.vocabSize)
    }

    /// Each query head against the cached keys and values of its kv head, positions 0...position.
    private func attend(_ layerKeys: UnsafePointer<Float>, _ layerValues: UnsafePointer<Float>) {
        let c = model.config, seen = position + 1, group = c.heads / c.kvHeads
        let scale = 1 / Float(c.headDim).squareRoot()
        for h in 0..<c.heads {
            let g = h / group
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(seen), Int32(c.headDim), 1, layerKeys + g * c.headDim, Int32(c.kvDim),
                        qkv.pointer + h * c.headDim, 1, 0, scores.pointer, 1)
            tk_softmax_causal(scores.pointer, scores.count, 1, position, seen, scale)
            cblas_sgemv(CblasRowMajor, CblasTrans, Int32(seen), Int32(c.headDim), 1, layerValues + g * c.headDim, Int32(c.kvDim),
                        scores.pointer, 1, 0, attention.pointer + h * c.headDim, 1)
        }
    }

    /// y = W x (or y += W x) for a row-major [rows, columns] weight.
    private func gemv(_ w: UnsafePointer<Float>, rows: Int, columns: Int, _ vector: UnsafePointer<Float>,
                      into y: UnsafeMutablePointer<Float>, accumulate: Bool = false)
    {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows), Int32(columns), 1, w, Int32(columns), vector, 1, accumulate ? 1 : 0, y, 1)
    }
}

/// Picks the next token from logits: greedy at temperature 0, otherwise seeded sampling with
/// optional top-k and top-p (nucleus) truncation.
public struct Sampler {
    public var temperature: Double
    public var topK: Int?
    public var topP: Double?
    private var rng: SplitMix64

    public init(temperature: Double = 0, topK: Int? = nil, topP: Double? = nil, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        rng = SplitMix64(seed: seed)
    }

    public mutating func next(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        if temperature <= 0 {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            return Int32(best)
        }
        var order = Array(0..<logits.count)
        order.sort { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
        if let k = topK, k > 0, k < order.count { order.removeLast(order.count - k) }
        let top = Double(logits[order[0]])
        var weights = order.map { exp((Double(logits[$0]) - top) / temperature) }
        let total = weights.reduce(0, +)
        if let p = topP, p < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count, cumulative < p * total {
                cumulative += weights[keep]
                keep += 1
            }
            weights.removeLast(weights.count - max(1, keep))
            order.removeLast(order.count - weights.count)
        }
        var target = rng.nextUnit() * weights.reduce(0, +)
        for (i, w) in weights.enumerated() {
            target -= w
            if target < 0 { return Int32(order[i]) }
        }
        return Int32(order[weights.count - 1])
    }
}
