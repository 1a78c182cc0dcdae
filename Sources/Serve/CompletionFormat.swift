import Inference
import PipeKit

/// `/v1/completions` responses (`text_completion`): each choice's text, with the echoed prompt
/// first when asked, and legacy log-probabilities.
struct CompletionFormat: GenerationFormat {
    /// A choice's prompt: its text and tokens (for echo).
    struct Prompt: Sendable {
        var text: String
        var ids: [Int32]
    }

    let header: ResponseHeader
    let model: ServedModel
    /// Each choice's prompt.
    let prompts: [Prompt]
    let echo: Bool
    /// Whether log-probabilities are reported (the prompt's too with echo).
    let logprobs: Bool
    /// Per choice in a stream: log-probabilities continue from the text sent so far.
    private var offsets: [LegacyLogprobs]

    init(header: ResponseHeader, model: ServedModel, prompts: [Prompt], echo: Bool, logprobs: Bool) {
        self.header = header
        self.model = model
        self.prompts = prompts
        self.echo = echo
        self.logprobs = logprobs
        offsets = Array(repeating: LegacyLogprobs(), count: prompts.count)
    }

    mutating func opening() -> [JSONValue] {
        guard echo, !logprobs else { return [] }
        return prompts.indices.map { chunk(choice: $0, text: prompts[$0].text, logprobs: nil, finish: nil) }
    }

    mutating func chunks(for update: GenerationJob.Update) -> [JSONValue] {
        switch update {
        case .promptScored(let choice, let scores):
            guard echo else { return [] }
            offsets[choice].appendPrompt(prompts[choice].ids, scores: scores, model: model)
            return [chunk(choice: choice, text: prompts[choice].text, logprobs: offsets[choice].json, finish: nil)]
        case .piece(let choice, let piece):
            var entries = LegacyLogprobs(offset: offsets[choice].offset)
            for token in piece.tokens { entries.append(token, model: model) }
            offsets[choice] = LegacyLogprobs(offset: entries.offset)
            return [chunk(choice: choice, text: piece.text, logprobs: logprobs ? entries.json : nil, finish: nil)]
        case .finished(let choice, let reason):
            return [chunk(choice: choice, text: "", logprobs: nil, finish: reason.rawValue)]
        }
    }

    private func chunk(choice: Int, text: String, logprobs: JSONValue?, finish: String?) -> JSONValue {
        var object = header.fields(object: "text_completion")
        object["choices"] = .array([.object(["index": .int(Int64(choice)), "text": .string(text), "logprobs": logprobs ?? .null,
                                             "finish_reason": finish.map(JSONValue.string) ?? .null])])
        return .object(object)
    }

    func response(_ results: [ChoiceResult], usage: JSONValue) -> JSONValue {
        var object = header.fields(object: "text_completion")
        object["choices"] = .array(results.enumerated().map { i, result in
            var entries = LegacyLogprobs()
            if echo, logprobs { entries.appendPrompt(prompts[i].ids, scores: result.promptScores ?? [], model: model) }
            for token in result.tokens { entries.append(token, model: model) }
            return .object(["index": .int(Int64(i)), "text": .string((echo ? prompts[i].text : "") + result.text),
                            "logprobs": logprobs ? entries.json : .null, "finish_reason": .string(result.finishReason)])
        })
        object["usage"] = usage
        return .object(object)
    }

    func usageChunk(_ usage: JSONValue) -> JSONValue {
        var object = header.fields(object: "text_completion")
        object["choices"] = .array([])
        object["usage"] = usage
        return .object(object)
    }
}
