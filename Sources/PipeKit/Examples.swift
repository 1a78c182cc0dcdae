import Foundation

/// One message of a chat: its role (system, user or assistant) and its text.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    /// The roles a chat template knows.
    public static let roles: Set<String> = ["system", "user", "assistant"]
}

/// One labelled example, in a form fine-tuning learns from and evaluation scores.
public enum Example: Sendable, Equatable {
    /// A prompt and the completion to learn; `label` names the class when the completion is a
    /// classification label's verbalizer.
    case completion(prompt: String, completion: String, label: String?)
    /// A conversation; the assistant's messages are what is learned.
    case chat([ChatMessage])
    /// Plain text, learned whole.
    case text(String)

    /// The canonical JSON line of the `examples` artifact.
    public var json: JSONValue {
        switch self {
        case .completion(let prompt, let completion, let label):
            var object: [String: JSONValue] = ["prompt": .string(prompt), "completion": .string(completion)]
            if let label { object["label"] = .string(label) }
            return .object(object)
        case .chat(let messages):
            return .object(["messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) })])
        case .text(let text):
            return .object(["text": .string(text)])
        }
    }

    /// An example read back from its canonical JSON line (`place` names it in errors).
    public init(json: JSONValue, at place: String) throws {
        if let list = json["messages"]?.arrayValue {
            self = .chat(try list.enumerated().map { n, message in
                guard let role = message["role"]?.stringValue, let content = message["content"]?.stringValue else {
                    throw StageError("\(place): messages[\(n)] needs string role and content")
                }
                return ChatMessage(role: role, content: content)
            })
        } else if let prompt = json["prompt"]?.stringValue, let completion = json["completion"]?.stringValue {
            self = .completion(prompt: prompt, completion: completion, label: json["label"]?.stringValue)
        } else if let text = json["text"]?.stringValue {
            self = .text(text)
        } else {
            throw StageError("\(place): not an example (messages, prompt + completion, or text)")
        }
    }
}

/// An `examples` artifact: `train.jsonl`, `validation.jsonl` and `test.jsonl` of canonical
/// example lines, and `meta.json` saying their form and, for classification, the labels.
public enum ExampleSet {
    /// The splits, in the order they are written.
    public static let splits = ["train", "validation", "test"]

    /// What `meta.json` holds.
    public struct Meta: Codable, Sendable, Equatable {
        /// completion, chat, text or classification.
        public var form: String
        /// Examples per split.
        public var counts: [String: Int]
        /// Classification: each label's verbalizer (the completion that names it), in `labelOrder`.
        public var labels: [String: String]?
        public var labelOrder: [String]?

        public init(form: String, counts: [String: Int], labels: [String: String]? = nil, labelOrder: [String]? = nil) {
            self.form = form
            self.counts = counts
            self.labels = labels
            self.labelOrder = labelOrder
        }
    }

    /// Writes the splits and `meta.json` into an output folder.
    public static func write(_ examples: [String: [Example]], meta: Meta, to folder: URL) throws {
        for split in splits {
            var text = ""
            for example in examples[split] ?? [] { text += example.json.canonicalJSON + "\n" }
            try Data(text.utf8).write(to: folder.appendingPathComponent("\(split).jsonl"))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(meta).write(to: folder.appendingPathComponent("meta.json"))
    }

    /// The artifact's `meta.json`.
    public static func meta(_ artifact: any ArtifactReading) throws -> Meta {
        do {
            return try JSONDecoder().decode(Meta.self, from: artifact.read("meta.json"))
        } catch let error as DecodingError {
            throw StageError("examples/meta.json: \(error)")
        }
    }

    /// One split's examples.
    public static func read(_ artifact: any ArtifactReading, split: String) throws -> [Example] {
        let data = try artifact.read("\(split).jsonl")
        var examples: [Example] = []
        for (n, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() {
            examples.append(try Example(json: try JSONValue.parse(Data(line)), at: "examples/\(split).jsonl:\(n + 1)"))
        }
        return examples
    }
}
