import Foundation

/// Learning rate by step: linear warmup, then cosine, linear or constant decay to a floor
/// (nanoGPT's formulation, so its recipes carry over unchanged).
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Decay: String, Sendable, CaseIterable { case cosine, linear, constant }

    public var peak: Double
    public var minimum: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay

    public init(peak: Double, minimum: Double, warmupSteps: Int, totalSteps: Int, decay: Decay) {
        self.peak = peak
        self.minimum = minimum
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
    }

    /// The rate for step `step` (0-based).
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps + 1) }
        if decay == .constant || totalSteps <= warmupSteps { return peak }
        let progress = min(1, Double(step - warmupSteps) / Double(totalSteps - warmupSteps))
        let coefficient = decay == .cosine ? 0.5 * (1 + cos(Double.pi * progress)) : 1 - progress
        return minimum + coefficient * (peak - minimum)
    }
}
