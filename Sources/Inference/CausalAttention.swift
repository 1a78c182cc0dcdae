import CBLAS
import CTrainKernels
import Transformer

/// Each query row against the cached keys and values of its sequence up to its own position,
/// per head (grouped-query heads share a key/value head). The (chunk, head) pairs are shared out
/// across the team; each pair takes its query rows in blocks, so scratch is bounded by
/// `blockRows` × context per member.
///
/// Shapes: queries [T, stride] with head h at h·hd; cache keys/values [position, KV] with head g
/// at g·hd; output [T, C].
struct CausalAttention {
    let config: ModelConfig
    let team: ThreadTeam
    /// Per member: scores [blockRows, context].
    private let scores: [FloatBuffer]
    static let blockRows = 64

    init(config: ModelConfig, team: ThreadTeam) {
        self.config = config
        self.team = team
        scores = (0..<team.count).map { _ in FloatBuffer(count: Self.blockRows * config.context) }
    }

    func run(queries: UnsafePointer<Float>, queryStride: Int, chunks: [BatchChunk], layer: Int, into output: UnsafeMutablePointer<Float>) {
        let c = config, hd = c.headDim, group = c.heads / c.kvHeads, scale = 1 / Float(hd).squareRoot()
        let items = chunks.count * c.heads
        team.run { member in
            let s = scores[member].pointer
            for item in team.share(member, of: items) {
                let chunk = chunks[item / c.heads], h = item % c.heads, g = h / group
                let keys = chunk.cache.keys(layer) + g * hd, values = chunk.cache.values(layer) + g * hd
                var done = 0
                while done < chunk.count {
                    let rows = min(Self.blockRows, chunk.count - done)
                    let first = chunk.startPosition + done, seen = first + rows
                    let q = queries + (chunk.firstRow + done) * queryStride + h * hd
                    let out = output + (chunk.firstRow + done) * c.dim + h * hd
                    if rows == 1 {
                        cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(seen), Int32(hd), 1, keys, Int32(c.kvDim), q, 1, 0, s, 1)
                    } else {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(seen), Int32(hd), 1, q, Int32(queryStride),
                                    keys, Int32(c.kvDim), 0, s, Int32(seen))
                    }
                    tk_softmax_causal(s, seen, rows, first, seen, scale)
                    if rows == 1 {
                        cblas_sgemv(CblasRowMajor, CblasTrans, Int32(seen), Int32(hd), 1, values, Int32(c.kvDim), s, 1, 0, out, 1)
                    } else {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(hd), Int32(seen), 1, s, Int32(seen),
                                    values, Int32(c.kvDim), 0, out, Int32(c.dim))
                    }
                    done += rows
                }
            }
        }
    }
}
