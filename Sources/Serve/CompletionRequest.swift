import Foundation
import PipeKit

/// A `/v1/completions` request: one or more prompts (text or token ids), the generation
/// options, and the legacy `logprobs` (alternatives per token, 0-5) and `echo`.
struct CompletionRequest {
    /// A prompt as the client gave it.
    enum Prompt {
        case text(String)
        case tokens([Int32])
    }

    var model: String?
    var prompts: [Prompt]
    var options: GenerationOptions
    /// Alternatives per token; nil for no log-probabilities at all.
    var logprobs: Int?
    var echo: Bool

    static let maxPrompts = 64

    init(_ fields: RequestFields) throws(APIError) {
        model = try fields.string("model")
        options = try GenerationOptions(fields, maxTokensKeys: ["max_tokens"])
        logprobs = try fields.int("logprobs", in: 0...5)
        echo = try fields.bool("echo") ?? false
        guard let prompt = fields["prompt"] else { throw .invalid("prompt is required", param: "prompt") }
        prompts = try Self.prompts(prompt)
        guard !prompts.isEmpty, prompts.count <= Self.maxPrompts else {
            throw .invalid("prompt must hold 1 to \(Self.maxPrompts) prompts", param: "prompt")
        }
    }

    /// A string, a list of strings, a list of token ids, or a list of lists of token ids.
    private static func prompts(_ value: JSONValue) throws(APIError) -> [Prompt] {
        if let text = value.stringValue { return [.text(text)] }
        guard let items = value.arrayValue else { throw .invalid("prompt must be a string, a list of strings or token ids", param: "prompt") }
        if items.isEmpty { return [] }
        if let ids = tokenIds(items) { return [.tokens(ids)] }
        var prompts: [Prompt] = []
        for item in items {
            if let text = item.stringValue {
                prompts.append(.text(text))
            } else if let list = item.arrayValue, let ids = tokenIds(list), !ids.isEmpty {
                prompts.append(.tokens(ids))
            } else {
                throw .invalid("prompt must be a string, a list of strings, a list of token ids or a list of such lists", param: "prompt")
            }
        }
        return prompts
    }

    private static func tokenIds(_ items: [JSONValue]) -> [Int32]? {
        var ids: [Int32] = []
        for item in items {
            guard let id = item.intValue, let small = Int32(exactly: id) else { return nil }
            ids.append(small)
        }
        return ids
    }
}
