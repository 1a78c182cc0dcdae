import Foundation
import PipeKit

/// How a chat becomes a prompt: a text per role with `{content}` where the message goes, and
/// the text that opens the assistant's turn. Read from the tokenizer artifact's
/// `tokenizer_config.json`, in pipe's own form under `pipe_chat_template` (the fine-tuning
/// stage writes it beside the equivalent Jinja `chat_template`); a model without one cannot
/// serve chat.
public struct ChatTemplate: Sendable, Equatable {
    public var system: String
    public var user: String
    public var assistant: String
    public var generationPrompt: String

    /// The key of pipe's form in `tokenizer_config.json`.
    public static let configKey = "pipe_chat_template"

    public init(system: String, user: String, assistant: String, generationPrompt: String) {
        self.system = system
        self.user = user
        self.assistant = assistant
        self.generationPrompt = generationPrompt
    }

    /// The messages rendered in order, then the generation prompt.
    public func render(_ messages: [ChatMessage]) -> String {
        var text = ""
        for message in messages {
            let form = message.role == "system" ? system : message.role == "assistant" ? assistant : user
            text += form.replacingOccurrences(of: "{content}", with: message.content)
        }
        return text + generationPrompt
    }

    /// The template beside a tokenizer (`tokenizer.json` or its folder): nil when its
    /// `tokenizer_config.json` is absent or has no `pipe_chat_template`; an error when that is
    /// malformed.
    public static func lookup(tokenizer: URL) throws -> ChatTemplate? {
        var isDirectory: ObjCBool = false
        let folder = FileManager.default.fileExists(atPath: tokenizer.path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? tokenizer : tokenizer.deletingLastPathComponent()
        let file = folder.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        let config = try JSONValue.parse(Data(contentsOf: file))
        guard let form = config[configKey], form != .null else { return nil }
        func field(_ name: String, required: Bool = true) throws -> String {
            if let text = form[name]?.stringValue { return text }
            guard !required, form[name] == nil else { throw ChatTemplateError("\(file.path): \(configKey).\(name) must be a string") }
            return ""
        }
        return ChatTemplate(system: try field("system"), user: try field("user"), assistant: try field("assistant"),
                            generationPrompt: try field("generation_prompt", required: false))
    }
}

/// A malformed chat template in a tokenizer's configuration.
public struct ChatTemplateError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
