import CTrainKernels
import Foundation

/// AdamW with global-norm gradient clipping, over one parameter buffer: the model's, or the
/// tensors of another buffer (LoRA adapters).
///
/// Each worker owns a contiguous range of the buffer and updates the tensors (or parts of
/// tensors) inside it, each with its own weight decay (norms and, optionally, embeddings skip it).
public final class AdamW: ParameterOptimizer, @unchecked Sendable {
    /// Hyperparameters; `clip` ≤ 0 turns clipping off.
    public struct Settings: Sendable, Equatable {
        public var beta1: Float = 0.9
        public var beta2: Float = 0.95
        public var eps: Float = 1e-8
        public var weightDecay: Float = 0.1
        public var decayNorms = false
        public var decayEmbeddings = true
        public var clip: Float = 1.0
        public init() {}
    }

    public let settings: Settings
    /// First and second moments, laid out like the parameters.
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Updates applied so far (for the bias correction).
    public var step = 0
    private let tensors: [ParameterLayout.Tensor]
    private let count: Int

    /// AdamW over `count` floats made of `tensors` (each tensor's decay follows its kind).
    public init(tensors: [ParameterLayout.Tensor], count: Int, settings: Settings) {
        self.tensors = tensors
        self.count = count
        self.settings = settings
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
    }

    public convenience init(layout: ParameterLayout, settings: Settings) {
        self.init(tensors: layout.tensors, count: layout.count, settings: settings)
    }

    /// The L2 norm of all gradients.
    public static func norm(_ gradients: FloatBuffer, workers: Workers) -> Double {
        var partial = [Double](repeating: 0, count: workers.count)
        partial.withUnsafeMutableBufferPointer { partial in
            workers.run { w in
                let r = workers.range(w, of: gradients.count)
                partial[w] = tk_sum_squares(gradients.pointer + r.lowerBound, r.count)
            }
        }
        return partial.reduce(0, +).squareRoot()
    }

    /// One update at learning rate `lr`; returns the gradient norm before clipping.
    @discardableResult
    public func update(parameters: FloatBuffer, gradients: FloatBuffer, lr: Float, workers: Workers) -> Double {
        let norm = AdamW.norm(gradients, workers: workers)
        apply(parameters: parameters, gradients: gradients, lr: lr, gradientScale: clipScale(norm: norm), workers: workers)
        return norm
    }

    /// The factor that brings a gradient of L2 norm `norm` down to the clip (1 when it is within).
    public func clipScale(norm: Double) -> Float {
        settings.clip > 0 && norm > Double(settings.clip) ? Float(Double(settings.clip) / norm) : 1
    }

    /// One AdamW step of this optimizer's tensors, with the gradients multiplied by `gradientScale`.
    public func apply(parameters: FloatBuffer, gradients: FloatBuffer, lr: Float, gradientScale scale: Float, workers: Workers) {
        let s = settings
        step += 1
        let bc1 = 1 - Float(pow(Double(s.beta1), Double(step)))
        let bc2 = 1 - Float(pow(Double(s.beta2), Double(step)))
        workers.run { w in
            let mine = workers.range(w, of: count)
            for t in tensors {
                let lo = max(mine.lowerBound, t.offset), hi = min(mine.upperBound, t.offset + t.count)
                guard lo < hi else { continue }
                let decays = (t.isNorm ? s.decayNorms : true) && (t.isEmbedding ? s.decayEmbeddings : true)
                tk_adamw(parameters.pointer + lo, gradients.pointer + lo, m.pointer + lo, v.pointer + lo, hi - lo,
                         lr, s.beta1, s.beta2, s.eps, decays ? s.weightDecay : 0, scale, bc1, bc2)
            }
        }
    }
}
