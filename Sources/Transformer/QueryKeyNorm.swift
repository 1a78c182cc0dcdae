import CTrainKernels

/// QK-norm on one packed qkv row, shared by training, the generator and the inference engine.
public enum QueryKeyNorm {
    /// Writes into `row`'s query heads, then its key heads, those of `input` (`dim + kvDim`
    /// floats: `row` itself, or a copy kept for the backward pass) RMS-normalized and scaled by
    /// `queryWeight` and `keyWeight` (head size each); each head's reciprocal RMS goes to `rstd`
    /// (heads + kvHeads floats).
    public static func forward(_ row: UnsafeMutablePointer<Float>, from input: UnsafePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               queryWeight: UnsafePointer<Float>, keyWeight: UnsafePointer<Float>, _ c: ModelConfig)
    {
        let eps = Float(c.normEps)
        tk_rmsnorm_forward(row, rstd, input, queryWeight, c.heads, c.headDim, eps)
        tk_rmsnorm_forward(row + c.dim, rstd + c.heads, input + c.dim, keyWeight, c.kvHeads, c.headDim, eps)
    }
}
