import Foundation
import PipeKit
import Transformer

/// The objective's budget as training reads it: a model over `max_parameters` or a run over
/// `max_tokens` is refused before it starts; `max_train_seconds` stops it at a checkpoint.
public struct TrainingBudget: Decodable {
    public var max_parameters: Int?
    public var max_train_seconds: Double?
    public var max_tokens: Int?

    /// The budget artifact's `budget.json`, if the stage has one.
    public static func read(_ artifact: (any ArtifactReading)?) throws -> TrainingBudget? {
        guard let artifact else { return nil }
        return try JSONDecoder().decode(TrainingBudget.self, from: artifact.read("budget.json"))
    }

    /// Refuses a model or a run over the limits; returns the time limit.
    public func check(_ config: ModelConfig, steps: Int, tokensPerStep: Int) throws -> Double? {
        if let cap = max_parameters, config.parameterCount > cap {
            throw StageRefusal("budget: the model has \(config.parameterCount) parameters (embeddings included, tied counted once), over max_parameters \(cap); shrink dim, layers or the vocabulary")
        }
        if let cap = max_tokens, steps * tokensPerStep > cap {
            throw StageRefusal("budget: training would use \(steps * tokensPerStep) tokens (\(steps) steps × \(tokensPerStep)), over max_tokens \(cap)")
        }
        return max_train_seconds
    }
}
