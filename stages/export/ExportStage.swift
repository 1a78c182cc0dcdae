import BPETokenizer
import Foundation
import PipeKit
import Transformer

/// `export`: writes the files the tools people already use load: a GGUF for llama.cpp (with the
/// tokenizer inside) and a Hugging Face directory with a model card.
public struct ExportStage: Stage {
    public struct Params: Parameters {
        @Param("what to write") var formats = [Format.gguf, .hf]
        @Param("auto: a quantized model's own blocks, else f32; f16 halves a float model") var gguf_type = GGUFType.auto
        @Param("the model's name (default: the stage's name)") var name: String? = nil
        public init() {}
    }

    /// A file layout to export.
    enum Format: String, ParamChoice { case gguf, hf }

    /// The tensor type of the GGUF file.
    enum GGUFType: String, ParamChoice { case auto, f32, f16 }

    public static let name = "export"
    public static let version = 2
    public static let summary = "Export a model as GGUF (llama.cpp) and as a Hugging Face directory with a model card."
    public static let inputs = [
        StagePort("model", .model, doc: "float or quantized"),
        StagePort("tokenizer", .tokenizer),
        StagePort("objective", .objective, optional: true, doc: "for the model card"),
        StagePort("metrics", .metrics, optional: true, doc: "evaluation metrics, for the model card"),
        StagePort("documents", .documents, optional: true, doc: "the training documents: sources and licences for the model card"),
    ]
    public static let outputs = [
        StagePort("gguf", .model, optional: true, doc: "model.gguf (llama architecture, gpt2 tokenizer) + config.json; empty unless formats has gguf"),
        StagePort("hf", .model, optional: true, doc: "config.json, model.safetensors, tokenizer.json, tokenizer_config.json, generation_config.json, README.md; empty unless formats has hf"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        p.formats.isEmpty ? [ParamProblem(["formats"], "name at least one format")] : []
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let modelInput = try context.input("model")
        let modelFolder = try modelInput.materialize(into: context.scratch.appendingPathComponent("model"))
        let tokenizerFolder = try context.input("tokenizer").materialize(into: context.scratch.appendingPathComponent("tokenizer"))
        let tokenizer = try Tokenizer(contentsOf: tokenizerFolder)
        let model = try ModelFiles.load(from: modelFolder)
        guard tokenizer.vocabularySize == model.config.vocabSize else {
            throw StageError("the tokenizer has \(tokenizer.vocabularySize) tokens, the model's vocabulary \(model.config.vocabSize)")
        }
        let quantizedFile = modelFolder.appendingPathComponent(ModelFiles.ggufFile)
        let quantized = FileManager.default.fileExists(atPath: quantizedFile.path)
            && !FileManager.default.fileExists(atPath: modelFolder.appendingPathComponent(ModelFiles.weightsFile).path)
        let name = p.name ?? context.stageName

        if p.formats.contains(.gguf) {
            let out = try context.output("gguf")
            let tensors: [GGUF.Tensor]
            let fileType: GGMLType
            if quantized, p.gguf_type == .auto {
                let stored = try GGUF.read(quantizedFile)
                tensors = model.layout.tensors.map { stored.tensors[LlamaGGUF.ggufName($0.name)]! }
                let matrixTypes = Dictionary(grouping: tensors.filter { $0.dimensions.count == 2 }, by: \.type).mapValues(\.count)
                fileType = matrixTypes.max { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }?.key ?? .f32
                context.log("GGUF keeps the quantized blocks: " + Dictionary(grouping: tensors, by: \.type.name).map { "\($0.value.count) \($0.key)" }.sorted().joined(separator: ", "))
            } else {
                let type: GGMLType = p.gguf_type == .f16 ? .f16 : .f32
                tensors = LlamaGGUF.tensors(of: model) { $0.isNorm ? .f32 : type }
                fileType = type
            }
            let metadata = LlamaGGUF.metadata(model.config, name: name, fileType: fileType)
                + Self.tokenizerMetadata(tokenizer, model.config, chatTemplate: try Self.chatTemplate(in: tokenizerFolder))
            try GGUF.write(metadata: metadata, tensors: tensors, to: out.appendingPathComponent(ModelFiles.ggufFile))
            try FileManager.default.copyItem(at: modelFolder.appendingPathComponent(ModelFiles.configFile), to: out.appendingPathComponent(ModelFiles.configFile))
        }
        if p.formats.contains(.hf) {
            let out = try context.output("hf")
            if quantized { context.log("the Hugging Face export holds the quantized model's weights dequantized to f32") }
            try ModelFiles.save(model, to: out, metadata: ["format": "pt"])
            try FileManager.default.copyItem(at: tokenizerFolder.appendingPathComponent("tokenizer.json"),
                                             to: out.appendingPathComponent("tokenizer.json"))
            try Self.writeTokenizerConfig(from: tokenizerFolder, to: out)
            // No max_length: transformers 5 warns on every generate() call when the file sets it;
            // the context is config.json's max_position_embeddings.
            var generation: [String: JSONValue] = ["_from_model_config": .bool(true)]
            if let eos = model.config.eosTokenId { generation["eos_token_id"] = .int(Int64(eos)); generation["bos_token_id"] = .int(Int64(eos)) }
            try JSONValue.object(generation).write(to: out.appendingPathComponent("generation_config.json"))
            let card = try ModelCard(name: name, config: model.config, quantizedFrom: quantized ? try GGUF.read(quantizedFile) : nil, context: context)
            try Data(card.markdown.utf8).write(to: out.appendingPathComponent("README.md"))
        }
    }

    /// The tokenizer's `tokenizer_config.json` with the inputs a causal LM takes named, so
    /// `transformers`' `generate(**tokenizer(p, return_tensors="pt"))` gets no `token_type_ids`.
    static func writeTokenizerConfig(from tokenizerFolder: URL, to out: URL) throws {
        let file = tokenizerFolder.appendingPathComponent("tokenizer_config.json")
        guard case .object(var config) = try JSONValue.parse(Data(contentsOf: file)) else {
            throw StageError("tokenizer: tokenizer_config.json is not a JSON object")
        }
        config["model_input_names"] = .array([.string("input_ids"), .string("attention_mask")])
        try JSONValue.object(config).write(to: out.appendingPathComponent("tokenizer_config.json"))
    }

    /// The Jinja chat template of a tokenizer folder's `tokenizer_config.json`, if it has one
    /// (a fine-tuned model's).
    static func chatTemplate(in tokenizerFolder: URL) throws -> String? {
        let file = tokenizerFolder.appendingPathComponent("tokenizer_config.json")
        guard FileManager.default.fileExists(atPath: file.path) else { return nil }
        guard let value = try JSONValue.parse(Data(contentsOf: file))["chat_template"], value != .null else { return nil }
        guard let text = value.stringValue else { throw StageError("tokenizer: tokenizer_config.json's chat_template is not a string") }
        return text
    }

    /// The tokenizer as llama.cpp's `gpt2` vocabulary: pieces in id order, specials marked as
    /// control tokens, merges as "left right"; the chat template as `tokenizer.chat_template`.
    static func tokenizerMetadata(_ t: Tokenizer, _ c: ModelConfig, chatTemplate: String?) -> [(String, GGUF.Value)] {
        let ids = (0..<Int32(t.vocabularySize))
        var entries: [(String, GGUF.Value)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("gpt-2")),
            ("tokenizer.ggml.tokens", .strings(ids.map { t.piece($0) })),
            ("tokenizer.ggml.token_type", .int32s(ids.map { t.isSpecial($0) ? 3 : 1 })),
            ("tokenizer.ggml.merges", .strings(t.mergePieces.map { "\($0.left) \($0.right)" })),
            ("tokenizer.ggml.add_bos_token", .bool(false)),
        ]
        if let eos = c.eosTokenId {
            entries.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(eos))))
            entries.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos))))
        }
        if let chatTemplate { entries.append(("tokenizer.chat_template", .string(chatTemplate))) }
        return entries
    }
}
