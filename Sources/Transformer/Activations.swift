/// Every buffer one batch shape needs, allocated once: what the forward pass keeps for the
/// backward pass, and the backward pass's scratch. Sized for `batch` sequences of `seq` tokens.
///
/// With `checkpointing`, only each layer's input is kept; the backward pass recomputes a
/// layer's other activations just before it needs them, in one shared set of slots.
public final class Activations: @unchecked Sendable {
    /// Offsets of one layer's kept activations inside `storage`, with their shapes (B = batch,
    /// T = seq, C = dim, F = ffnDim, H = heads, Hkv = kvHeads, D = headDim; rows are B·T).
    struct LayerSlots {
        let norm1: Int          // (B, T, C)  RMSNorm of the layer's input
        let rstd1: Int          // (B, T)     its reciprocal RMS
        let qkv: Int            // (B, T, (H + 2·Hkv)·D)  q, k, v side by side, q and k after RoPE
        let queryKeyInput: Int  // (B, T, (H + Hkv)·D)  QK-norm, training: q and k before it (else empty)
        let queryKeyRstd: Int   // (B, T, H + Hkv)  QK-norm: each head's reciprocal RMS
        let probabilities: Int  // (B, H, T, T)  causal softmax of the attention scores
        let attention: Int      // (B, T, C)  heads' outputs, concatenated, before the output projection
        let middle: Int         // (B, T, C)  residual after attention: input + attention projection
        let norm2: Int          // (B, T, C)  RMSNorm of `middle`
        let rstd2: Int          // (B, T)     its reciprocal RMS
        let gateUp: Int         // (B, T, 2·F)  gate and up projections side by side
        let mlp: Int            // (B, T, F)  SwiGLU: silu(gate) · up, before the down projection
    }

    public let batch: Int
    public let seq: Int
    public var rows: Int { batch * seq }
    public let checkpointing: Bool
    public let training: Bool
    let attention: Attention
    /// Rows of logits a worker computes at a time in the LM head.
    static let headRows = 128

    /// Residual stream entering each layer, and after the last one: (layers + 1) × rows × dim.
    let residual: FloatBuffer
    let storage: FloatBuffer
    let slots: [LayerSlots]
    let finalNorm: FloatBuffer
    let finalRstd: FloatBuffer
    /// Per worker: a block of logits, and (training) private sums of norm and head gradients.
    let logits: FloatBuffer
    let workerNormGradient: FloatBuffer
    let workerHeadGradient: FloatBuffer
    /// Per worker (training, QK-norm): one row's q and k gradient before the norm, and private
    /// sums of the query and key norms' weight gradients.
    let workerQueryKeyGradient: FloatBuffer
    let workerQueryKeyNormGradient: FloatBuffer
    // Backward scratch, shared by all layers.
    let dResidual, dNorm, dQKV, dAttention, dGateUp, dMLP, attentionScratch: FloatBuffer
    public let tokens: UnsafeMutablePointer<Int32>
    /// Per row: the target token, or -1 for a position that is not trained on (a prompt's
    /// token, padding).
    public let targets: UnsafeMutablePointer<Int32>
    /// Per row: the position, within its sequence, where the row's example begins. All 0 (one
    /// example per sequence) unless examples are packed; attention stays within an example and
    /// RoPE positions restart at each.
    public let segmentStarts: UnsafeMutablePointer<Int32>
    /// Per row: how many logits beat the target's (rank 0 = top-1 correct); filled on request.
    public let ranks: UnsafeMutablePointer<Int32>
    /// Per row: the cross-entropy of its target; filled on request.
    public let rowLosses: UnsafeMutablePointer<Float>
    let workers: Workers

    public init(config c: ModelConfig, batch: Int, seq: Int, workers: Workers, training: Bool, checkpointing: Bool = false) {
        precondition(seq <= c.context, "sequence longer than the model's context")
        self.batch = batch
        self.seq = seq
        self.training = training
        self.checkpointing = checkpointing || !training
        self.workers = workers
        attention = Attention(batch: batch, seq: seq, heads: c.heads, kvHeads: c.kvHeads, headDim: c.headDim)
        let rows = batch * seq
        // QK-norm keeps its inputs for the backward pass only; inference normalizes in place.
        let queryKeyWidth = c.qkNorm && training ? c.dim + c.kvDim : 0, queryKeyHeads = c.qkNorm ? c.heads + c.kvHeads : 0
        residual = FloatBuffer(count: (c.layers + 1) * rows * c.dim)
        var offset = 0
        func take(_ n: Int) -> Int { defer { offset += n }; return offset }
        var slots: [LayerSlots] = []
        for _ in 0..<(self.checkpointing ? 1 : c.layers) {
            slots.append(LayerSlots(norm1: take(rows * c.dim), rstd1: take(rows), qkv: take(rows * attention.qkvWidth),
                                    queryKeyInput: take(rows * queryKeyWidth), queryKeyRstd: take(rows * queryKeyHeads),
                                    probabilities: take(attention.probabilityCount), attention: take(rows * c.dim),
                                    middle: take(rows * c.dim), norm2: take(rows * c.dim), rstd2: take(rows),
                                    gateUp: take(rows * 2 * c.ffnDim), mlp: take(rows * c.ffnDim)))
        }
        self.slots = slots
        storage = FloatBuffer(count: offset)
        finalNorm = FloatBuffer(count: rows * c.dim)
        finalRstd = FloatBuffer(count: rows)
        logits = FloatBuffer(count: workers.count * Activations.headRows * c.vocabSize)
        let n = training ? 1 : 0
        workerNormGradient = FloatBuffer(count: n * workers.count * c.dim)
        workerHeadGradient = FloatBuffer(count: n * workers.count * c.vocabSize * c.dim)
        workerQueryKeyGradient = FloatBuffer(count: n * workers.count * queryKeyWidth)
        workerQueryKeyNormGradient = FloatBuffer(count: n * workers.count * (c.qkNorm ? 2 * c.headDim : 0))
        dResidual = FloatBuffer(count: n * rows * c.dim)
        dNorm = FloatBuffer(count: n * rows * c.dim)
        dQKV = FloatBuffer(count: n * rows * attention.qkvWidth)
        dAttention = FloatBuffer(count: n * rows * c.dim)
        dGateUp = FloatBuffer(count: n * rows * 2 * c.ffnDim)
        dMLP = FloatBuffer(count: n * rows * c.ffnDim)
        attentionScratch = FloatBuffer(count: n * workers.count * attention.scratchPerWorker)
        tokens = .allocate(capacity: rows)
        targets = .allocate(capacity: rows)
        segmentStarts = .allocate(capacity: rows)
        ranks = .allocate(capacity: rows)
        rowLosses = .allocate(capacity: rows)
        rowLosses.initialize(repeating: 0, count: rows)
        tokens.initialize(repeating: 0, count: rows)
        targets.initialize(repeating: 0, count: rows)
        segmentStarts.initialize(repeating: 0, count: rows)
        ranks.initialize(repeating: 0, count: rows)
    }

    deinit {
        tokens.deallocate()
        targets.deallocate()
        segmentStarts.deallocate()
        ranks.deallocate()
        rowLosses.deallocate()
    }

    /// Bytes held, for memory reports.
    public var bytes: Int {
        4 * [residual, storage, finalNorm, finalRstd, logits, workerNormGradient, workerHeadGradient, workerQueryKeyGradient,
             workerQueryKeyNormGradient, dResidual,
             dNorm, dQKV, dAttention, dGateUp, dMLP, attentionScratch].reduce(0) { $0 + $1.count } + 20 * rows
    }

    func slots(forLayer l: Int) -> LayerSlots { slots[checkpointing ? 0 : l] }
}
