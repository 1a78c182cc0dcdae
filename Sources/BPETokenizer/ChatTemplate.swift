import Foundation
import PipeKit

/// How a chat becomes text: a form per role with `{content}` where the message goes, and the
/// text that opens the assistant's turn (by default the assistant form's text before
/// `{content}`).
///
/// Declared once, on the fine-tuning stage, and stored with the tokenizer artifact in
/// `tokenizer_config.json` twice: in pipe's form under `pipe_chat_template` (what pipe renders
/// with) and as the equivalent Jinja `chat_template` (what `transformers`' `apply_chat_template`
/// and llama.cpp render with), so training, serving and every export see the same text.
public struct ChatTemplate: Sendable, Equatable {
    public var system: String?
    public var user: String
    public var assistant: String
    public var generationPrompt: String

    /// The key of pipe's form in `tokenizer_config.json`.
    public static let configKey = "pipe_chat_template"
    /// Where a message's text goes in a role's form.
    public static let placeholder = "{content}"

    public init(system: String?, user: String, assistant: String, generationPrompt: String? = nil) {
        self.system = system
        self.user = user
        self.assistant = assistant
        self.generationPrompt = generationPrompt ?? Self.split(assistant).opening
    }

    /// What is wrong with a role's form, if anything: it must hold `{content}` exactly once.
    public static func problem(form: String) -> String? {
        let count = form.components(separatedBy: placeholder).count - 1
        return count == 1 ? nil : "must contain \(placeholder) exactly once (it has \(count))"
    }

    /// A run of rendered text, and whether fine-tuning learns to produce it.
    public struct Segment: Sendable, Equatable {
        public var text: String
        public var trained: Bool
    }

    /// The conversation as segments, in order: each system and user message whole (not
    /// trained); each assistant message as its opening (not trained) and its content with the
    /// closing, such as an end-of-turn token (trained); then, when asked, the generation
    /// prompt (not trained). Tokenizing the segments one by one and concatenating the ids
    /// gives the same ids in training and in serving, and the trained tokens are known without
    /// searching the token ids for a template string.
    public func segments(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Segment] {
        var segments: [Segment] = []
        for (n, message) in messages.enumerated() {
            switch message.role {
            case "system":
                guard let system else { throw ChatTemplateError("messages[\(n)]: this chat template has no system role") }
                segments.append(Segment(text: system.replacingOccurrences(of: Self.placeholder, with: message.content), trained: false))
            case "user":
                segments.append(Segment(text: user.replacingOccurrences(of: Self.placeholder, with: message.content), trained: false))
            case "assistant":
                let (opening, closing) = Self.split(assistant)
                if !opening.isEmpty { segments.append(Segment(text: opening, trained: false)) }
                segments.append(Segment(text: message.content + closing, trained: true))
            default:
                throw ChatTemplateError("messages[\(n)]: unknown role '\(message.role)' (system, user or assistant)")
            }
        }
        if addGenerationPrompt, !generationPrompt.isEmpty { segments.append(Segment(text: generationPrompt, trained: false)) }
        return segments
    }

    /// The conversation's text, with the generation prompt by default.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws -> String {
        try segments(messages, addGenerationPrompt: addGenerationPrompt).map(\.text).joined()
    }

    /// Where generation should stop: the assistant form's closing (the text after `{content}`)
    /// without trailing whitespace, or nil when the closing is only whitespace.
    public var stopText: String? {
        let closing = Self.split(assistant).closing
        let trimmed = String(closing.reversed().drop { $0.isWhitespace }.reversed())
        return trimmed.isEmpty ? nil : trimmed
    }

    private static func split(_ form: String) -> (opening: String, closing: String) {
        guard let range = form.range(of: placeholder) else { return (form, "") }
        return (String(form[..<range.lowerBound]), String(form[range.upperBound...]))
    }

    // MARK: Files

    /// The equivalent Jinja template, as `transformers`' `apply_chat_template` runs it: the same
    /// text for every conversation, an exception for a role the template lacks. Every literal is
    /// a Jinja string expression and no text sits between tags, so Jinja's whitespace handling
    /// never changes the output.
    public var jinja: String {
        // A JSON string is also a Jinja string literal (Jinja decodes its escapes as Python's
        // unicode-escape does: \n, \", \\, \u00XX).
        func literal(_ text: String) -> String { JSONValue.string(text).canonicalJSON }
        func message(_ form: String) -> String {
            let (opening, closing) = Self.split(form)
            return "{{ \(literal(opening)) + message['content'] + \(literal(closing)) }}"
        }
        var out = "{% for message in messages %}"
        out += "{% if message['role'] == 'system' %}"
        out += system.map(message) ?? "{{ raise_exception('this chat template has no system role') }}"
        out += "{% elif message['role'] == 'user' %}" + message(user)
        out += "{% elif message['role'] == 'assistant' %}" + message(assistant)
        out += "{% else %}{{ raise_exception('unknown role ' + message['role'] + ' (system, user or assistant)') }}"
        out += "{% endif %}{% endfor %}"
        if !generationPrompt.isEmpty { out += "{% if add_generation_prompt %}{{ \(literal(generationPrompt)) }}{% endif %}" }
        return out
    }

    /// pipe's form, as stored under `pipe_chat_template`.
    public var json: JSONValue {
        var object: [String: JSONValue] = ["user": .string(user), "assistant": .string(assistant),
                                           "generation_prompt": .string(generationPrompt)]
        if let system { object["system"] = .string(system) }
        return .object(object)
    }

    /// pipe's form read back from `pipe_chat_template` (`file` names it in errors).
    public init(json form: JSONValue, file: String) throws {
        func field(_ name: String, required: Bool) throws -> String? {
            guard let value = form[name], value != .null else {
                if required { throw ChatTemplateError("\(file): \(Self.configKey).\(name) is missing") }
                return nil
            }
            guard let text = value.stringValue else { throw ChatTemplateError("\(file): \(Self.configKey).\(name) must be a string") }
            if name != "generation_prompt", let problem = Self.problem(form: text) {
                throw ChatTemplateError("\(file): \(Self.configKey).\(name) \(problem)")
            }
            return text
        }
        self.init(system: try field("system", required: false), user: try field("user", required: true)!,
                  assistant: try field("assistant", required: true)!, generationPrompt: try field("generation_prompt", required: false))
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
        return try ChatTemplate(json: form, file: file.path)
    }
}

/// A malformed chat template, or a conversation it cannot render.
public struct ChatTemplateError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
