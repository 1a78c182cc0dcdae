import Foundation

/// The mapping between pipe's model and llama.cpp's GGUF: tensor names, metadata keys, and the
/// q/k row permutation. A model is stored as llama.cpp's `llama` architecture, or as `qwen3`
/// when it has QK-norm. pipe's RoPE rotates the two halves of each head (Hugging Face's
/// rotate_half). llama.cpp's `llama` rotates adjacent pairs, so for it q and k rows are
/// reordered on the way out (as llama.cpp's own converter does) and back on the way in; its
/// `qwen3` rotates halves, as pipe does, and its rows keep their order.
public enum LlamaGGUF {
    /// The GGUF architectures pipe reads and writes.
    public static let architectures = ["llama", "qwen3"]

    /// The architecture a model is stored as.
    public static func architecture(of c: ModelConfig) -> String { c.qkNorm ? "qwen3" : "llama" }

    /// Whether a model's q and k rows are stored in llama.cpp's pair order (the `llama`
    /// architecture) rather than in pipe's own halves order.
    public static func permutesQueryKeyRows(_ c: ModelConfig) -> Bool { !c.qkNorm }

    /// llama.cpp's name for a Hugging Face tensor name.
    public static func ggufName(_ name: String) -> String {
        let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        if let n = fixed[name] { return n }
        let parts = name.split(separator: ".")  // model.layers.N.<group>.<name>.weight
        let layer = parts[2], role = parts[3...].joined(separator: ".")
        let roles = ["input_layernorm.weight": "attn_norm", "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
                     "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
                     "post_attention_layernorm.weight": "ffn_norm", "mlp.gate_proj.weight": "ffn_gate",
                     "mlp.up_proj.weight": "ffn_up", "mlp.down_proj.weight": "ffn_down",
                     "self_attn.q_norm.weight": "attn_q_norm", "self_attn.k_norm.weight": "attn_k_norm"]
        return "blk.\(layer).\(roles[role]!).weight"
    }

    /// Heads whose rows a tensor's permutation groups, or nil when it is not q or k.
    private static func permutedHeads(_ name: String, _ c: ModelConfig) -> Int? {
        guard permutesQueryKeyRows(c) else { return nil }
        if name.hasSuffix("q_proj.weight") { return c.heads }
        if name.hasSuffix("k_proj.weight") { return c.kvHeads }
        return nil
    }

    /// Row `r` of the permuted matrix comes from row `source(r)` of the original: within each
    /// head, rows (i, i + hd/2) become neighbours (2i, 2i + 1).
    private static func reorder(_ values: [Float], rows: Int, columns: Int, heads: Int, inverse: Bool) -> [Float] {
        let headRows = rows / heads, half = headRows / 2
        var out = values
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let permuted = h * headRows + 2 * i + j, original = h * headRows + j * half + i
                    let (to, from) = inverse ? (original, permuted) : (permuted, original)
                    for c in 0..<columns { out[to * columns + c] = values[from * columns + c] }
                }
            }
        }
        return out
    }

    /// The model's tensors under llama.cpp's names and layout, each encoded in the type
    /// `type(tensor)` chooses (quantized types need rows that are a multiple of 32).
    public static func tensors(of model: TransformerModel, type: (ParameterLayout.Tensor) -> GGMLType) -> [GGUF.Tensor] {
        model.layout.tensors.map { t in
            var values = Array(model.parameters.slice(t.offset, t.count))
            if let heads = permutedHeads(t.name, model.config) {
                values = reorder(values, rows: t.shape[0], columns: t.shape[1], heads: heads, inverse: false)
            }
            let chosen = type(t)
            let data = values.withUnsafeBufferPointer { chosen.encode($0) }
            return GGUF.Tensor(name: ggufName(t.name), dimensions: t.shape.reversed(), type: chosen, data: data)
        }
    }

    /// `general.*` metadata and the architecture's hyperparameters for a model.
    public static func metadata(_ c: ModelConfig, name: String, fileType: GGMLType) -> [(String, GGUF.Value)] {
        let arch = architecture(of: c)
        return [
            ("general.architecture", .string(arch)),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType.fileType)),
            ("general.quantization_version", .uint32(2)),
            ("\(arch).vocab_size", .uint32(UInt32(c.vocabSize))),
            ("\(arch).context_length", .uint32(UInt32(c.context))),
            ("\(arch).embedding_length", .uint32(UInt32(c.dim))),
            ("\(arch).block_count", .uint32(UInt32(c.layers))),
            ("\(arch).feed_forward_length", .uint32(UInt32(c.ffnDim))),
            ("\(arch).rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("\(arch).attention.head_count", .uint32(UInt32(c.heads))),
            ("\(arch).attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("\(arch).attention.layer_norm_rms_epsilon", .float32(Float(c.normEps))),
            ("\(arch).rope.freq_base", .float32(Float(c.ropeTheta))),
        ]
    }

    /// Throws unless a GGUF file's `general.architecture` is the one `config` is stored as (a
    /// config.json beside the file and the file itself must describe the same model).
    public static func checkArchitecture(_ metadata: [String: GGUF.Value], of config: ModelConfig, path: String) throws {
        let stored = metadata["general.architecture"]?.string ?? "(none)", expected = architecture(of: config)
        guard stored == expected else {
            throw TransformerError("\(path): general.architecture is \(stored), but its config describes a \(expected) model")
        }
    }

    /// The model shape a standalone GGUF file describes (for files without a config.json beside them).
    public static func config(of file: GGUF.File, path: String) throws -> ModelConfig {
        try config(metadata: file.metadata, dimensions: file.tensors.mapValues(\.dimensions), path: path)
    }

    /// The model shape a GGUF file's index describes.
    public static func config(of index: GGUF.Index, path: String) throws -> ModelConfig {
        try config(metadata: index.metadata, dimensions: index.tensors.mapValues(\.dimensions), path: path)
    }

    private static func config(metadata: [String: GGUF.Value], dimensions: [String: [Int]], path: String) throws -> ModelConfig {
        guard let arch = metadata["general.architecture"]?.string, architectures.contains(arch) else {
            throw TransformerError("\(path): general.architecture is not one of \(architectures.joined(separator: ", "))")
        }
        func int(_ key: String) throws -> Int {
            guard let v = metadata["\(arch).\(key)"]?.int else { throw TransformerError("\(path): metadata \(arch).\(key) is missing or not an integer") }
            return v
        }
        guard let embedding = dimensions["token_embd.weight"], embedding.count == 2 else {
            throw TransformerError("\(path): tensor token_embd.weight is missing")
        }
        let eos = metadata["tokenizer.ggml.eos_token_id"]?.int
        return ModelConfig(vocabSize: embedding[1], dim: try int("embedding_length"), layers: try int("block_count"),
                           heads: try int("attention.head_count"), kvHeads: try int("attention.head_count_kv"),
                           ffnDim: try int("feed_forward_length"), context: try int("context_length"),
                           ropeTheta: metadata["\(arch).rope.freq_base"]?.float ?? 10000,
                           normEps: metadata["\(arch).attention.layer_norm_rms_epsilon"]?.float ?? 1e-5,
                           tieEmbeddings: dimensions["output.weight"] == nil, qkNorm: arch == "qwen3", bosTokenId: eos, eosTokenId: eos)
    }

    /// Loads the weights of a GGUF file into a float model of shape `config` (read from
    /// `configPath`: a config.json, or the file itself), dequantizing and undoing the q/k
    /// permutation. The config and every tensor's shape are checked before the model is allocated.
    public static func load(_ file: GGUF.File, config: ModelConfig, configPath: String? = nil, path: String) throws -> TransformerModel {
        try checkArchitecture(file.metadata, of: config, path: path)
        try ModelFiles.checkWeights(of: config, from: configPath ?? path, path: path) { t in
            (ggufName(t.name), file.tensors[ggufName(t.name)]?.dimensions, Array(t.shape.reversed()))
        }
        let model = TransformerModel(config: config)
        for t in model.layout.tensors {
            var values = file.tensors[ggufName(t.name)]!.floats()
            if let heads = permutedHeads(t.name, config) {
                values = reorder(values, rows: t.shape[0], columns: t.shape[1], heads: heads, inverse: true)
            }
            values.withUnsafeBufferPointer { model.parameters.pointer.advanced(by: t.offset).update(from: $0.baseAddress!, count: t.count) }
        }
        return model
    }
}
