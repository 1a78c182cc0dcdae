import Foundation

/// Learning rate by step: linear warmup, then cosine, linear or constant decay to a floor
/// (nanoGPT's formulation, so its recipes carry over unchanged), or warmup-stable-decay: the
/// peak until the last `cooldown` share of the steps, then linear to the floor.
public struct LearningRateSchedule: Sendable, Equatable {
    public enum Decay: String, Sendable, CaseIterable { case cosine, linear, constant, wsd }

    public var peak: Double
    public var minimum: Double
    public var warmupSteps: Int
    public var totalSteps: Int
    public var decay: Decay
    /// `wsd`: the share of all steps spent decaying at the end.
    public var cooldown: Double

    public init(peak: Double, minimum: Double, warmupSteps: Int, totalSteps: Int, decay: Decay, cooldown: Double = 0.2) {
        self.peak = peak
        self.minimum = minimum
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.decay = decay
        self.cooldown = cooldown
    }

    /// The rate for step `step` (0-based).
    public func rate(at step: Int) -> Double {
        if step < warmupSteps { return peak * Double(step + 1) / Double(warmupSteps + 1) }
        if decay == .constant || totalSteps <= warmupSteps { return peak }
        if decay == .wsd {
            let decayStart = max(warmupSteps, totalSteps - Int((cooldown * Double(totalSteps)).rounded()))
            guard step >= decayStart, totalSteps > decayStart else { return peak }
            return minimum + (1 - Double(step - decayStart) / Double(totalSteps - decayStart)) * (peak - minimum)
        }
        let progress = min(1, Double(step - warmupSteps) / Double(totalSteps - warmupSteps))
        let coefficient = decay == .cosine ? 0.5 * (1 + cos(Double.pi * progress)) : 1 - progress
        return minimum + coefficient * (peak - minimum)
    }
}
