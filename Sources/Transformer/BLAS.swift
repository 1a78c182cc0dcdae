import CBLAS

/// Matrix products of the model, on OpenBLAS, split over the workers by rows of the result.
///
/// Weights are `[out, in]` row-major (Hugging Face's layout), activations `[rows, features]`.
public enum BLAS {
    /// Makes OpenBLAS single-threaded: the workers parallelize instead, which keeps one thread
    /// pool on the cores and keeps results independent of OpenBLAS's own partitioning.
    public static func useSingleThread() { openblas_set_num_threads(1) }

    /// The kernel family OpenBLAS picked for this CPU (`Haswell`, `SkylakeX`, `Zen`, …).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// y[M,N] = x[M,K] · w[N,K]ᵀ (or += with `accumulate`).
    public static func linear(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                              rows m: Int, out n: Int, in k: Int, accumulate: Bool = false, workers: Workers)
    {
        workers.split(m) { r in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r.count), Int32(n), Int32(k), 1,
                        x + r.lowerBound * k, Int32(k), w, Int32(k), accumulate ? 1 : 0, y + r.lowerBound * n, Int32(n))
        }
    }

    /// dx[M,K] = dy[M,N] · w[N,K] (or += with `accumulate`): the input gradient of `linear`.
    public static func linearInputGradient(_ dx: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                                           rows m: Int, out n: Int, in k: Int, accumulate: Bool = false, workers: Workers)
    {
        workers.split(m) { r in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(r.count), Int32(k), Int32(n), 1,
                        dy + r.lowerBound * n, Int32(n), w, Int32(k), accumulate ? 1 : 0, dx + r.lowerBound * k, Int32(k))
        }
    }

    /// dw[N,K] += dy[M,N]ᵀ · x[M,K]: the weight gradient of `linear`, split by rows of dw.
    public static func linearWeightGradient(_ dw: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                                            rows m: Int, out n: Int, in k: Int, workers: Workers)
    {
        workers.split(n) { r in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(r.count), Int32(k), Int32(m), 1,
                        dy + r.lowerBound, Int32(n), x, Int32(k), 1, dw + r.lowerBound * k, Int32(k))
        }
    }

    /// c[M,N] = alpha · op(a) · op(b) + beta · c on the calling thread, with explicit strides.
    @inline(__always)
    public static func gemm(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
                     a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                     beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
    {
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The upper triangle of c[M,M] = a[M,K] · a[M,K]ᵀ on the calling thread (the lower one is
    /// left as it was).
    public static func symmetricRankK(m: Int, k: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(m), Int32(k), 1, a, Int32(lda), 0, c, Int32(m))
    }

    /// y[M,N] += s[M,M] · b[M,N] on the calling thread, s symmetric and read from its upper triangle.
    public static func symmetricTimes(m: Int, n: Int, symmetric s: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int,
                                      accumulateInto y: UnsafeMutablePointer<Float>)
    {
        cblas_ssymm(CblasRowMajor, CblasLeft, CblasUpper, Int32(m), Int32(n), 1, s, Int32(m), b, Int32(ldb), 1, y, Int32(n))
    }
}
