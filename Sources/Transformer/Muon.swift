import Foundation

/// Muon for the hidden weight matrices (attention and MLP projections) and AdamW for the rest
/// (embeddings, the head, norms), as Muon's authors train.
///
/// For a matrix `W` of shape `[out, in]` with gradient `G` (after the global clip), each step:
/// `M ← μM + G`; `U = G + μM` (Nesterov) or `M`; `X₀ = U / (‖U‖_F + 10⁻⁷)`; five quintic
/// Newton–Schulz iterations `A = XXᵀ`, `X ← aX + (bA + cA²)X` with `(a, b, c) = (3.4445, −4.7750,
/// 2.0315)`, on `U` or `Uᵀ`, whichever has fewer rows, which drive the singular values of `X`
/// towards 1; then `W ← W(1 − η·λ) − η·√max(1, out/in)·X`. `η` follows the schedule: Muon's peak
/// rate times the schedule's rate over AdamW's peak.
///
/// The momentum lives in AdamW's first-moment buffer at the matrix's place (its second-moment
/// place stays zero), so a checkpoint holds Muon's state with no change of format. Each matrix
/// is orthogonalized whole by one worker (single-threaded BLAS), matrices spread over workers by
/// cost in a fixed order, so results do not depend on timing.
public final class MuonAdamW: ParameterOptimizer, @unchecked Sendable {
    /// Muon's hyperparameters (AdamW's are its own settings).
    public struct Settings: Sendable, Equatable {
        public var lr: Float
        public var momentum: Float
        public var nesterov: Bool
        public var iterations: Int
        public var weightDecay: Float

        public init(lr: Float = 0.02, momentum: Float = 0.95, nesterov: Bool = true, iterations: Int = 5, weightDecay: Float = 0) {
            (self.lr, self.momentum, self.nesterov, self.iterations, self.weightDecay) = (lr, momentum, nesterov, iterations, weightDecay)
        }
    }

    /// The quintic Newton–Schulz coefficients of Muon's reference implementation.
    static let coefficients: (a: Float, b: Float, c: Float) = (3.4445, -4.7750, 2.0315)

    public let settings: Settings
    /// AdamW for every tensor that is not a hidden matrix; its buffers hold Muon's momentum too.
    public let adamW: AdamW
    /// The matrices Muon updates.
    public let matrices: [ParameterLayout.Tensor]
    /// The schedule's AdamW peak, which Muon's rate is scaled by.
    private let adamWPeak: Float
    /// Which worker orthogonalizes which matrices.
    private let assignment: [[Int]]
    /// Per worker: the working matrix, its next iterate, and two square products.
    private let scratch: [(x: FloatBuffer, y: FloatBuffer, a: FloatBuffer, b: FloatBuffer)]

    public var m: FloatBuffer { adamW.m }
    public var v: FloatBuffer { adamW.v }
    public var step: Int {
        get { adamW.step }
        set { adamW.step = newValue }
    }

    /// Muon over the 2-D tensors other than embeddings and the head, AdamW (with `adamWSettings`,
    /// whose clip applies to the whole gradient) over the others.
    public init(tensors: [ParameterLayout.Tensor], count: Int, adamW adamWSettings: AdamW.Settings, adamWPeak: Float,
                settings: Settings, workers: Int)
    {
        let isMatrix = { (t: ParameterLayout.Tensor) in t.shape.count == 2 && !t.isEmbedding }
        let matrices = tensors.filter(isMatrix)
        self.matrices = matrices
        adamW = AdamW(tensors: tensors.filter { !isMatrix($0) }, count: count, settings: adamWSettings)
        self.settings = settings
        self.adamWPeak = adamWPeak
        // Largest cost first, each to the least loaded worker (ties: the lower index).
        var loads = [Double](repeating: 0, count: max(1, workers)), assignment = [[Int]](repeating: [], count: max(1, workers))
        func cost(_ t: ParameterLayout.Tensor) -> Double {
            let r = Double(min(t.shape[0], t.shape[1])), c = Double(max(t.shape[0], t.shape[1]))
            return 2 * r * r * c + r * r * r
        }
        for i in matrices.indices.sorted(by: { cost(matrices[$0]) != cost(matrices[$1]) ? cost(matrices[$0]) > cost(matrices[$1]) : $0 < $1 }) {
            let w = loads.indices.min { loads[$0] != loads[$1] ? loads[$0] < loads[$1] : $0 < $1 }!
            assignment[w].append(i)
            loads[w] += cost(matrices[i])
        }
        self.assignment = assignment
        let largest = matrices.map(\.count).max() ?? 0
        let square = matrices.map { min($0.shape[0], $0.shape[1]) * min($0.shape[0], $0.shape[1]) }.max() ?? 0
        scratch = assignment.map { _ in (FloatBuffer(count: largest), FloatBuffer(count: largest), FloatBuffer(count: square), FloatBuffer(count: square)) }
    }

    @discardableResult
    public func update(parameters: FloatBuffer, gradients: FloatBuffer, lr: Float, workers: Workers) -> Double {
        let norm = AdamW.norm(gradients, workers: workers)
        let scale = adamW.clipScale(norm: norm)
        adamW.apply(parameters: parameters, gradients: gradients, lr: lr, gradientScale: scale, workers: workers)
        let rate = settings.lr * lr / adamWPeak
        let scheduled = Workers(assignment.count)
        scheduled.run { w in
            for i in assignment[w] {
                orthogonalizedStep(matrices[i], parameters: parameters.pointer, gradients: gradients.pointer, gradientScale: scale,
                                   rate: rate, scratch: scratch[w])
            }
        }
        return norm
    }

    /// Momentum, Newton–Schulz and the weight update of one matrix, on the calling thread.
    private func orthogonalizedStep(_ t: ParameterLayout.Tensor, parameters: UnsafeMutablePointer<Float>,
                                    gradients: UnsafeMutablePointer<Float>, gradientScale: Float, rate: Float,
                                    scratch: (x: FloatBuffer, y: FloatBuffer, a: FloatBuffer, b: FloatBuffer))
    {
        let out = t.shape[0], inputs = t.shape[1], n = t.count
        let w = parameters + t.offset, g = gradients + t.offset, momentum = m.pointer + t.offset
        let mu = settings.momentum, nesterov = settings.nesterov
        // The update direction, transposed when the matrix is tall so that X has the fewer rows.
        let transposed = out > inputs
        let rows = min(out, inputs), columns = max(out, inputs)
        var x = scratch.x.pointer, y = scratch.y.pointer
        var sumSquares: Float = 0
        for r in 0..<out {
            for c in 0..<inputs {
                let i = r * inputs + c, gi = g[i] * gradientScale
                momentum[i] = mu * momentum[i] + gi
                let u = nesterov ? gi + mu * momentum[i] : momentum[i]
                x[transposed ? c * columns + r : i] = u
                sumSquares += u * u
            }
        }
        let inverseNorm = 1 / (sumSquares.squareRoot() + 1e-7)
        for i in 0..<n { x[i] *= inverseNorm }
        let (a, b, c) = Self.coefficients
        let gram = scratch.a.pointer, polynomial = scratch.b.pointer
        for _ in 0..<settings.iterations {
            // A = X·Xᵀ and A² = A·Aᵀ (A is symmetric, mirrored to be read whole) as rank-k updates
            // of their upper triangles; B = b·A + c·A² there; X' = a·X + B·X, B read as symmetric.
            BLAS.symmetricRankK(m: rows, k: columns, a: x, lda: columns, c: gram)
            for i in 0..<rows { for j in (i + 1)..<rows { gram[j * rows + i] = gram[i * rows + j] } }
            BLAS.symmetricRankK(m: rows, k: rows, a: gram, lda: rows, c: polynomial)
            for i in 0..<rows {
                for j in i..<rows { polynomial[i * rows + j] = b * gram[i * rows + j] + c * polynomial[i * rows + j] }
            }
            for i in 0..<n { y[i] = a * x[i] }
            BLAS.symmetricTimes(m: rows, n: columns, symmetric: polynomial, b: x, ldb: columns, accumulateInto: y)
            swap(&x, &y)
        }
        let step = rate * Float(max(1, Double(out) / Double(inputs)).squareRoot())
        let decay = 1 - rate * settings.weightDecay
        for r in 0..<out {
            for c in 0..<inputs {
                let i = r * inputs + c
                w[i] = w[i] * decay - step * x[transposed ? c * columns + r : i]
            }
        }
    }
}
