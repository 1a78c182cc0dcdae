import Inference

/// What one choice produced, gathered from a job's updates: the text, each released token with
/// its log-probability, the prompt's scores (echo) and why it ended.
struct ChoiceResult {
    var text = ""
    var tokens: [TokenLogprob] = []
    var promptScores: [TokenLogprob]?
    var finish: FinishReason?

    /// Folds an update into the results of every choice.
    static func apply(_ update: GenerationJob.Update, to results: inout [ChoiceResult]) {
        switch update {
        case .promptScored(let choice, let scores): results[choice].promptScores = scores
        case .piece(let choice, let piece):
            results[choice].text += piece.text
            results[choice].tokens += piece.tokens
        case .finished(let choice, let reason): results[choice].finish = reason
        }
    }

    /// OpenAI's name for how it ended.
    var finishReason: String { finish?.rawValue ?? "length" }
}
