import Foundation
import PipeKit

/// A `/v1/chat/completions` request: the messages (content as a string or a list of text
/// parts), the generation options (`max_completion_tokens` or `max_tokens`) and `logprobs` +
/// `top_logprobs`.
struct ChatRequest {
    var model: String?
    var messages: [ChatMessage]
    var options: GenerationOptions
    var logprobs: Bool
    var topLogprobs: Int

    static let roles: Set<String> = ["system", "developer", "user", "assistant"]

    init(_ fields: RequestFields) throws(APIError) {
        model = try fields.string("model")
        options = try GenerationOptions(fields, maxTokensKeys: ["max_completion_tokens", "max_tokens"])
        logprobs = try fields.bool("logprobs") ?? false
        topLogprobs = try fields.int("top_logprobs", in: 0...GenerationOptions.maxTopLogprobs) ?? 0
        guard let list = fields["messages"]?.arrayValue, !list.isEmpty else {
            throw .invalid("messages must be a non-empty list", param: "messages")
        }
        messages = []
        for (i, item) in list.enumerated() {
            guard let message = item.objectValue.map(RequestFields.init) else { throw .invalid("messages[\(i)] must be an object", param: "messages") }
            guard let role = try message.string("role"), Self.roles.contains(role) else {
                throw .invalid("messages[\(i)].role must be one of \(Self.roles.sorted().joined(separator: ", "))", param: "messages")
            }
            messages.append(ChatMessage(role: role == "developer" ? "system" : role, content: try Self.content(message["content"], at: i)))
        }
    }

    /// A string, or a list of `{"type": "text", "text": ...}` parts joined.
    private static func content(_ value: JSONValue?, at i: Int) throws(APIError) -> String {
        guard let value else { return "" }
        if let text = value.stringValue { return text }
        guard let parts = value.arrayValue else { throw .invalid("messages[\(i)].content must be a string or a list of text parts", param: "messages") }
        var text = ""
        for part in parts {
            guard part["type"]?.stringValue == "text", let piece = part["text"]?.stringValue else {
                throw .invalid("messages[\(i)].content: only text parts ({\"type\": \"text\", \"text\": ...}) are supported", param: "messages")
            }
            text += piece
        }
        return text
    }
}
