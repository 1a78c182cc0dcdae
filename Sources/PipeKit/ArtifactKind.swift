/// The type of an artifact flowing between stages; a port accepts only its own kind.
///
/// Built-in kinds are listed below. External plugins may declare kinds of their own by name.
public struct ArtifactKind: RawRepresentable, Hashable, Sendable, Codable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }
    public var description: String { rawValue }

    /// JSONL shards `part-00000.jsonl`…, one `{"id","text","source","meta"}` object per line.
    public static let documents: ArtifactKind = "documents"
    /// A Hugging Face `tokenizer.json` (byte-level BPE).
    public static let tokenizer: ArtifactKind = "tokenizer"
    /// Token shards `train-00000.bin`… plus `meta.json`.
    public static let tokens: ArtifactKind = "tokens"
    /// `config.json` plus `model.safetensors` or `model.gguf`.
    public static let model: ArtifactKind = "model"
    /// `metrics.json`.
    public static let metrics: ArtifactKind = "metrics"
    /// `objective.json`: the whole objective.
    public static let objective: ArtifactKind = "objective"
    /// `languages.json`: the languages the objective asks for.
    public static let languages: ArtifactKind = "languages"
    /// `budget.json`: parameter, time and token limits.
    public static let budget: ArtifactKind = "budget"
    /// `targets.json`: metric targets with their gate.
    public static let targets: ArtifactKind = "targets"
    /// `clusters.jsonl`: groups of duplicate documents and which one was kept.
    public static let clusters: ArtifactKind = "clusters"
    /// `train.jsonl`, `validation.jsonl`, `test.jsonl` of labelled examples plus `meta.json`
    /// (`ExampleSet`).
    public static let examples: ArtifactKind = "examples"
    /// `checkpoint.bin`: a training run's weights and optimizer moments.
    public static let checkpoint: ArtifactKind = "checkpoint"
    /// Any folder of files; a port of this kind accepts every kind.
    public static let any: ArtifactKind = "any"

    /// Whether an output of kind `produced` may feed a port of this kind.
    public func accepts(_ produced: ArtifactKind) -> Bool {
        self == .any || self == produced
    }
}

/// A named input or output of a stage.
public struct StagePort: Sendable, Hashable, Codable {
    public var name: String
    public var kind: ArtifactKind
    public var optional: Bool
    public var doc: String

    public init(_ name: String, _ kind: ArtifactKind, optional: Bool = false, doc: String = "") {
        self.name = name
        self.kind = kind
        self.optional = optional
        self.doc = doc
    }
}
