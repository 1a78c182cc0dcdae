import CTrainKernels

/// Causal multi-head attention with grouped KV heads over a packed `qkv` activation.
///
/// Each row of `qkv` is `[q (heads·hd), k (kvHeads·hd), v (kvHeads·hd)]`, with RoPE already
/// applied to q and k. Scores are computed block by block of query rows, each block only
/// against the keys it can see, so the masked upper triangle is never multiplied. The
/// probabilities are kept for the backward pass. A row packed with several examples (`starts`)
/// attends within its own example only; the zero probabilities outside it carry no gradient.
struct Attention {
    let batch: Int
    let seq: Int
    let heads: Int
    let kvHeads: Int
    let headDim: Int
    /// Query rows per block.
    static let block = 64

    var dim: Int { heads * headDim }
    var kvDim: Int { kvHeads * headDim }
    var qkvWidth: Int { dim + 2 * kvDim }
    var probabilityCount: Int { batch * heads * seq * seq }
    /// Scratch floats each worker needs in the backward pass.
    var scratchPerWorker: Int { Attention.block * seq }
    private var scale: Float { 1 / Float(headDim).squareRoot() }
    private var groupSize: Int { heads / kvHeads }

    /// out[b·T + t, h·hd ..] = softmax(q kᵀ · scale, causal) v for every head; position t of
    /// sequence b sees the keys from `starts[b·T + t]` (its example's first position) to t.
    func forward(qkv: UnsafePointer<Float>, starts: UnsafePointer<Int32>, probabilities: UnsafeMutablePointer<Float>,
                 out: UnsafeMutablePointer<Float>, workers: Workers)
    {
        workers.split(batch * heads) { items in
            for item in items { forwardHead(batch: item / heads, head: item % heads, qkv, starts, probabilities, out) }
        }
    }

    private func forwardHead(batch b: Int, head h: Int, _ qkv: UnsafePointer<Float>, _ starts: UnsafePointer<Int32>,
                             _ probabilities: UnsafeMutablePointer<Float>, _ out: UnsafeMutablePointer<Float>)
    {
        let w = qkvWidth, t = seq, g = h / groupSize
        let base = qkv + b * t * w
        let q = base + h * headDim, k = base + dim + g * headDim, v = base + dim + kvDim + g * headDim
        let p = probabilities + (b * heads + h) * t * t
        let o = out + b * t * dim + h * headDim
        for r0 in stride(from: 0, to: t, by: Attention.block) {
            let r1 = min(r0 + Attention.block, t), rows = r1 - r0
            BLAS.gemm(transA: false, transB: true, m: rows, n: r1, k: headDim, a: q + r0 * w, lda: w,
                      b: k, ldb: w, beta: 0, c: p + r0 * t, ldc: t)
            tk_softmax_segmented(p + r0 * t, t, rows, r0, r1, scale, starts + b * t + r0)
            BLAS.gemm(transA: false, transB: false, m: rows, n: headDim, k: r1, a: p + r0 * t, lda: t,
                      b: v, ldb: w, beta: 0, c: o + r0 * dim, ldc: dim)
        }
    }

    /// Gradients of q, k and v (written into `dqkv`, not accumulated) from the output gradient.
    func backward(qkv: UnsafePointer<Float>, probabilities: UnsafePointer<Float>, outGradient: UnsafePointer<Float>,
                  qkvGradient: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, workers: Workers)
    {
        // One work item per (sequence, kv head): the query heads sharing a kv head add into the
        // same dk and dv, so they run one after another on one worker.
        workers.run { worker in
            let items = workers.range(worker, of: batch * kvHeads)
            let dp = scratch + worker * scratchPerWorker
            for item in items {
                backwardGroup(batch: item / kvHeads, kvHead: item % kvHeads, qkv, probabilities, outGradient, qkvGradient, dp)
            }
        }
    }

    private func backwardGroup(batch b: Int, kvHead g: Int, _ qkv: UnsafePointer<Float>, _ probabilities: UnsafePointer<Float>,
                               _ outGradient: UnsafePointer<Float>, _ qkvGradient: UnsafeMutablePointer<Float>,
                               _ dp: UnsafeMutablePointer<Float>)
    {
        let w = qkvWidth, t = seq
        let base = qkv + b * t * w, dbase = qkvGradient + b * t * w
        let k = base + dim + g * headDim, v = base + dim + kvDim + g * headDim
        let dk = dbase + dim + g * headDim, dv = dbase + dim + kvDim + g * headDim
        for r in 0..<t {
            (dk + r * w).update(repeating: 0, count: headDim)
            (dv + r * w).update(repeating: 0, count: headDim)
        }
        for h in g * groupSize..<(g + 1) * groupSize {
            let q = base + h * headDim, dq = dbase + h * headDim
            let p = probabilities + (b * heads + h) * t * t
            let dout = outGradient + b * t * dim + h * headDim
            for r0 in stride(from: 0, to: t, by: Attention.block) {
                let r1 = min(r0 + Attention.block, t), rows = r1 - r0
                let pBlock = p + r0 * t, doBlock = dout + r0 * dim
                // dP = dO vᵀ, then through the softmax to the scores (scale folded in).
                BLAS.gemm(transA: false, transB: true, m: rows, n: r1, k: headDim, a: doBlock, lda: dim,
                          b: v, ldb: w, beta: 0, c: dp, ldc: t)
                tk_softmax_causal_backward(dp, pBlock, t, rows, r0, r1, scale)
                BLAS.gemm(transA: false, transB: false, m: rows, n: headDim, k: r1, a: dp, lda: t,
                          b: k, ldb: w, beta: 0, c: dq + r0 * w, ldc: w)
                BLAS.gemm(transA: true, transB: false, m: r1, n: headDim, k: rows, a: dp, lda: t,
                          b: q + r0 * w, ldb: w, beta: 1, c: dk, ldc: w)
                BLAS.gemm(transA: true, transB: false, m: r1, n: headDim, k: rows, a: pBlock, lda: t,
                          b: doBlock, ldb: dim, beta: 1, c: dv, ldc: w)
            }
        }
    }
}
