import CBLAS
import CInferenceKernels
import Transformer

/// Products of a batch of activation rows with weight matrices in their stored types, on the
/// team: y[b, offset(m) + r] = dot(row r of matrix m, x[b]) for every matrix m (placed side by
/// side in y, in order). The rows of all the matrices are shared out across the members as one
/// range, so three small matrices cost one hand-off, not three.
///
/// Quantized and f16 weights go through the `ik_` kernels (activations converted once per call
/// into the format the weight type pairs with); f32 weights too, up to `sgemmRows` rows, and
/// through OpenBLAS's sgemm (single-threaded in each member) for more.
struct Projection {
    let team: ThreadTeam
    /// Scratch for converted activations, large enough for `maxRows` rows of `maxColumns`.
    let scratch: UnsafeMutableRawPointer

    /// Batches of f32 rows at least this large go to sgemm.
    static let sgemmRows = 64

    static func scratchBytes(maxRows: Int, maxColumns: Int) -> Int {
        maxRows * max(Int(ik_activation_row_bytes(Int32(IK_F32), maxColumns)), Int(ik_activation_row_bytes(Int32(IK_F16), maxColumns)),
                      Int(ik_activation_row_bytes(Int32(IK_Q8_0), maxColumns)))
    }

    /// `n` rows of `x` (each `matrices[0].columns` floats) through `matrices`, into `y` (row
    /// stride `ldy`); added to y when `accumulate`.
    func run(_ x: UnsafePointer<Float>, rows n: Int, _ matrices: [WeightMatrix], into y: UnsafeMutablePointer<Float>, ldy: Int,
             accumulate: Bool = false)
    {
        let columns = matrices[0].columns
        let type = matrices[0].type
        precondition(matrices.allSatisfy { $0.columns == columns && $0.type == type }, "a projection's matrices share a type and a width")
        // The ik_ f32 kernels beat OpenBLAS up to batches of about 64 rows (bench/inference-kernels).
        let sgemm = type == .f32 && n >= Self.sgemmRows
        if !sgemm { prepare(x, rows: n, columns: columns, for: type) }
        let total = matrices.reduce(0) { $0 + $1.rows }
        let act = UnsafeRawPointer(scratch)
        team.run { member in
            let mine = team.share(member, of: total)
            var offset = 0
            for m in matrices {
                let lower = max(mine.lowerBound, offset) - offset, upper = min(mine.upperBound, offset + m.rows) - offset
                if lower < upper {
                    if sgemm {
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(upper - lower), Int32(columns), 1, x, Int32(columns),
                                    m.base.assumingMemoryBound(to: Float.self) + lower * columns, Int32(columns), accumulate ? 1 : 0,
                                    y + offset + lower, Int32(ldy))
                    } else {
                        ik_matmul(Int32(type.rawValue), m.base, columns, act, n, y + offset, ldy, lower, upper, accumulate ? 1 : 0)
                    }
                }
                offset += m.rows
            }
        }
    }

    /// Converts the activations into the format `type` pairs with, rows shared out when many.
    private func prepare(_ x: UnsafePointer<Float>, rows n: Int, columns: Int, for type: GGMLType) {
        let rowBytes = Int(ik_activation_row_bytes(Int32(type.rawValue), columns))
        if n < 2 * team.count {
            ik_prepare_activations(Int32(type.rawValue), x, n, columns, scratch)
            return
        }
        team.split(n) { rows in
            ik_prepare_activations(Int32(type.rawValue), x + rows.lowerBound * columns, rows.count, columns,
                                   scratch + rows.lowerBound * rowBytes)
        }
    }
}
