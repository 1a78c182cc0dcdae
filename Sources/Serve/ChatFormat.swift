import Inference
import PipeKit

/// `/v1/chat/completions` responses: `chat.completion` with each choice's assistant message,
/// or `chat.completion.chunk`s in OpenAI's order (the role, content deltas, a delta-less chunk
/// with the finish reason).
struct ChatFormat: GenerationFormat {
    let header: ResponseHeader
    let model: ServedModel
    let choices: Int
    let logprobs: Bool

    mutating func opening() -> [JSONValue] {
        (0..<choices).map { chunk(choice: $0, delta: ["role": .string("assistant"), "content": .string("")], logprobs: nil, finish: nil) }
    }

    mutating func chunks(for update: GenerationJob.Update) -> [JSONValue] {
        switch update {
        case .promptScored: return []
        case .piece(let choice, let piece):
            return [chunk(choice: choice, delta: ["content": .string(piece.text)],
                          logprobs: logprobs ? ChatLogprobs.json(piece.tokens, model: model) : nil, finish: nil)]
        case .finished(let choice, let reason):
            return [chunk(choice: choice, delta: [:], logprobs: nil, finish: reason.rawValue)]
        }
    }

    private func chunk(choice: Int, delta: [String: JSONValue], logprobs: JSONValue?, finish: String?) -> JSONValue {
        var object = header.fields(object: "chat.completion.chunk")
        object["choices"] = .array([.object(["index": .int(Int64(choice)), "delta": .object(delta), "logprobs": logprobs ?? .null,
                                             "finish_reason": finish.map(JSONValue.string) ?? .null])])
        return .object(object)
    }

    func response(_ results: [ChoiceResult], usage: JSONValue) -> JSONValue {
        var object = header.fields(object: "chat.completion")
        object["choices"] = .array(results.enumerated().map { i, result in
            .object(["index": .int(Int64(i)),
                     "message": .object(["role": .string("assistant"), "content": .string(result.text)]),
                     "logprobs": logprobs ? ChatLogprobs.json(result.tokens, model: model) : .null,
                     "finish_reason": .string(result.finishReason)])
        })
        object["usage"] = usage
        return .object(object)
    }

    func usageChunk(_ usage: JSONValue) -> JSONValue {
        var object = header.fields(object: "chat.completion.chunk")
        object["choices"] = .array([])
        object["usage"] = usage
        return .object(object)
    }
}
