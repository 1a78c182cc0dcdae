import Foundation
import Inference

/// What both `/v1/completions` and `/v1/chat/completions` ask of the generation: how many
/// tokens, how to sample, where to stop, how many choices and whether to stream.
struct GenerationOptions {
    /// Tokens to generate at most; nil leaves it to the endpoint (16 for completions, the rest
    /// of the context for chat).
    var maxTokens: Int?
    var sampling = SamplingSettings()
    var stops: [String]
    /// Choices per prompt.
    var n: Int
    var stream: Bool
    /// With `stream`, a last chunk with the usage and no choices.
    var includeUsage: Bool

    /// The largest `n`, and the most alternatives per token (`logprobs`, `top_logprobs`).
    static let maxChoices = 16
    static let maxTopLogprobs = 20

    /// Reads the shared fields; `maxTokensKeys` are the names the endpoint accepts, first wins.
    init(_ fields: RequestFields, maxTokensKeys: [String]) throws(APIError) {
        for key in maxTokensKeys where maxTokens == nil {
            maxTokens = try fields.int(key, in: 0...Int(Int32.max))
        }
        sampling.temperature = try fields.double("temperature", in: 0...2) ?? 1
        sampling.topP = try fields.double("top_p", in: 0...1) ?? 1
        guard sampling.topP > 0 else { throw .invalid("top_p must be above 0", param: "top_p") }
        // -1 means no limit (vLLM's and llama.cpp's convention), as does 0.
        sampling.topK = max(0, try fields.int("top_k", in: -1...Int(Int32.max)) ?? 0)
        sampling.minP = try fields.double("min_p", in: 0...1) ?? 0
        sampling.frequencyPenalty = try fields.double("frequency_penalty", in: -2...2) ?? 0
        sampling.presencePenalty = try fields.double("presence_penalty", in: -2...2) ?? 0
        sampling.repetitionPenalty = try fields.double("repetition_penalty", in: 0.01...10) ?? 1
        if let seed = try fields.int("seed", in: Int(Int64.min)...Int(Int64.max)) {
            sampling.seed = UInt64(bitPattern: Int64(seed))
        } else {
            sampling.seed = UInt64.random(in: 0...UInt64.max)
        }
        stops = try fields.stops()
        n = try fields.int("n", in: 1...Self.maxChoices) ?? 1
        stream = try fields.bool("stream") ?? false
        includeUsage = try fields.object("stream_options")?.bool("include_usage") ?? false
    }

    /// The sampling settings of choice `index` (each choice its own seed).
    func sampling(choice index: Int, topLogprobs: Int) -> SamplingSettings {
        var settings = sampling
        settings.seed = sampling.seed &+ UInt64(index)
        settings.topLogprobs = topLogprobs
        return settings
    }
}
