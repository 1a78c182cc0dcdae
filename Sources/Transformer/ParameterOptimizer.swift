/// An optimizer over one parameter buffer, with its state in two buffers laid out like the
/// parameters (what a checkpoint saves): AdamW's moments, or Muon's momentum beside AdamW's
/// moments for the tensors AdamW keeps.
public protocol ParameterOptimizer: AnyObject {
    var m: FloatBuffer { get }
    var v: FloatBuffer { get }
    /// Updates applied so far.
    var step: Int { get set }
    /// One update at learning rate `lr` (the schedule's AdamW rate); returns the gradient norm
    /// before clipping.
    @discardableResult
    func update(parameters: FloatBuffer, gradients: FloatBuffer, lr: Float, workers: Workers) -> Double
}
