import Foundation
import PipeKit

/// Field names of the raw JSONL files, as the manifest maps them.
struct ExampleFields: Parameters {
    @Param("the prompt of {prompt, completion} lines") var prompt = "prompt"
    @Param("the completion of {prompt, completion} lines") var completion = "completion"
    @Param("the message list of chat lines") var messages = "messages"
    @Param("a message's role") var role = "role"
    @Param("a message's text") var content = "content"
    @Param("the text of {text} and {text, label} lines") var text = "text"
    @Param("the class of {text, label} lines") var label = "label"
}

/// Classification: how a `{text, label}` line becomes a prompt and the completion that names
/// its label (the verbalizer).
struct Classification: Parameters {
    @Param("each label's verbalizer, e.g. {positive: \" yes\", negative: \" no\"}") var labels: [String: String] = [:]
    @Param("the prompt, with {text} where the line's text goes") var prompt = "{text}\nLabel:"
}

/// What to do with a line that is not a valid example.
enum BadLinePolicy: String, ParamChoice { case fail, skip }

/// Reads raw JSONL files of labelled examples in the forms people have (`{prompt, completion}`,
/// `{messages: [{role, content}]}`, `{text}`, `{text, label}`), one form per dataset (the first
/// valid line decides), into canonical `Example`s. Each bad line is an error naming the file
/// and line, or (policy `skip`) is counted and its first few reported.
struct RawExampleReader {
    let fields: ExampleFields
    let classification: Classification
    let policy: BadLinePolicy
    let maxLineBytes: Int
    let maxExamples: Int
    let maxTotalBytes: Int
    /// Bytes of examples read so far, over every file.
    private(set) var totalBytes = 0
    /// The dataset's form once its first valid line has been read.
    private(set) var form: String?
    private(set) var badLines = 0
    private(set) var reported: [String] = []

    init(fields: ExampleFields, classification: Classification, policy: BadLinePolicy, maxLineBytes: Int, maxExamples: Int,
         maxTotalBytes: Int)
    {
        self.fields = fields
        self.classification = classification
        self.policy = policy
        self.maxLineBytes = maxLineBytes
        self.maxExamples = maxExamples
        self.maxTotalBytes = maxTotalBytes
    }

    /// Every valid example of a file, in order; `shown` names the file in messages.
    mutating func read(_ url: URL, shown: String) throws -> [Example] {
        var examples: [Example] = []
        try LineReader.forEachLine(of: url, maxLineBytes: maxLineBytes) { bytes, number in
            guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
            try count(bytes.count, at: "\(shown):\(number)")
            try keep(Self.object(bytes), at: "\(shown):\(number)", into: &examples)
        }
        return examples
    }

    /// Every valid example among documents, each read as the object of its fields: `id`,
    /// `text`, `source` and the keys of its `meta` (so `fields: {label: source}` classifies
    /// documents by where they came from).
    mutating func read(_ documents: DocumentsReader) throws -> [Example] {
        var examples: [Example] = []
        try documents.forEach { document in
            try count(document.text.utf8.count, at: "documents: \(document.id)")
            var fields = document.meta?.objectValue ?? [:]
            fields["id"] = .string(document.id)
            fields["text"] = .string(document.text)
            if let source = document.source { fields["source"] = .string(source) }
            try keep(.success(.object(fields)), at: "documents: \(document.id)", into: &examples)
        }
        return examples
    }

    /// Counts bytes read against `maxTotalBytes`.
    private mutating func count(_ bytes: Int, at place: String) throws {
        totalBytes += bytes
        guard totalBytes <= maxTotalBytes else {
            throw StageError("\(place): more than max_total_bytes \(maxTotalBytes) bytes of examples; raise max_total_bytes")
        }
    }

    /// Adds the example an object holds, or applies the policy to its problem.
    private mutating func keep(_ object: Result<JSONValue, StageError>, at place: String, into examples: inout [Example]) throws {
        do {
            examples.append(try example(object.get()))
        } catch let error as StageError {
            let message = "\(place): \(error.message)"
            guard policy == .skip else { throw StageError(message) }
            badLines += 1
            if reported.count < 5 { reported.append(message) }
        }
        guard examples.count <= maxExamples else { throw StageError("\(place): more than max_examples \(maxExamples) examples; raise max_examples") }
    }

    /// A line's JSON value, or why it has none.
    private static func object(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, StageError> {
        guard let line = String(validating: bytes, as: UTF8.self) else { return .failure(StageError("not valid UTF-8")) }
        do { return .success(try JSONValue.parse(Data(line.utf8))) } catch { return .failure(StageError("not JSON: \(error)")) }
    }

    private mutating func example(_ object: JSONValue) throws -> Example {
        guard object.objectValue != nil else { throw StageError("not a JSON object") }
        let (lineForm, example) = try parse(object)
        if let form, form != lineForm { throw StageError("a \(lineForm) line in a \(form) dataset (its first valid line decided)") }
        form = lineForm
        return example
    }

    private func parse(_ object: JSONValue) throws -> (String, Example) {
        if let list = object[fields.messages] {
            guard let messages = list.arrayValue, !messages.isEmpty else { throw StageError("\"\(fields.messages)\" must be a non-empty list") }
            return ("chat", .chat(try messages.enumerated().map { n, message in
                guard let role = message[fields.role]?.stringValue, ChatMessage.roles.contains(role) else {
                    throw StageError("\(fields.messages)[\(n)].\(fields.role) must be one of \(ChatMessage.roles.sorted().joined(separator: ", "))")
                }
                guard let content = message[fields.content]?.stringValue else {
                    throw StageError("\(fields.messages)[\(n)].\(fields.content) must be a string")
                }
                return ChatMessage(role: role, content: content)
            }))
        }
        if object[fields.prompt] != nil || object[fields.completion] != nil {
            guard let prompt = object[fields.prompt]?.stringValue, let completion = object[fields.completion]?.stringValue else {
                throw StageError("\"\(fields.prompt)\" and \"\(fields.completion)\" must both be strings")
            }
            return ("completion", .completion(prompt: prompt, completion: completion, label: nil))
        }
        guard let text = object[fields.text]?.stringValue else {
            throw StageError("no example fields: give \"\(fields.messages)\", \"\(fields.prompt)\" + \"\(fields.completion)\", or \"\(fields.text)\" (+ \"\(fields.label)\")")
        }
        guard let value = object[fields.label], value != .null else { return ("text", .text(text)) }
        let label = value.stringValue ?? value.canonicalJSON
        guard let verbalizer = classification.labels[label] else {
            throw StageError("label \(JSONValue.string(label).canonicalJSON) is not among classification.labels (\(classification.labels.keys.sorted().joined(separator: ", ")))")
        }
        return ("classification", .completion(prompt: classification.prompt.replacingOccurrences(of: "{text}", with: text),
                                              completion: verbalizer, label: label))
    }
}
