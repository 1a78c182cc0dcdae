import Foundation

/// The mapping between pipe's model and llama.cpp's `llama` GGUF: tensor names, metadata keys,
/// and the q/k row permutation. pipe's RoPE rotates the two halves of each head
/// (Hugging Face's rotate_half); llama.cpp's rotates adjacent pairs, so q and k rows are
/// reordered on the way out (as llama.cpp's own converter does) and back on the way in.
public enum LlamaGGUF {
    /// llama.cpp's name for a Hugging Face tensor name.
    public static func ggufName(_ name: String) -> String {
        let fixed = ["model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight", "lm_head.weight": "output.weight"]
        if let n = fixed[name] { return n }
        let parts = name.split(separator: ".")  // model.layers.N.<group>.<name>.weight
        let layer = parts[2], role = parts[3...].joined(separator: ".")
        let roles = ["input_layernorm.weight": "attn_norm", "self_attn.q_proj.weight": "attn_q", "self_attn.k_proj.weight": "attn_k",
                     "self_attn.v_proj.weight": "attn_v", "self_attn.o_proj.weight": "attn_output",
                     "post_attention_layernorm.weight": "ffn_norm", "mlp.gate_proj.weight": "ffn_gate",
                     "mlp.up_proj.weight": "ffn_up", "mlp.down_proj.weight": "ffn_down"]
        return "blk.\(layer).\(roles[role]!).weight"
    }

    /// Heads whose rows a tensor's permutation groups, or nil when it is not q or k.
    private static func permutedHeads(_ name: String, _ c: ModelConfig) -> Int? {
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

    /// `general.*` and `llama.*` metadata for a model.
    public static func metadata(_ c: ModelConfig, name: String, fileType: GGMLType) -> [(String, GGUF.Value)] {
        [
            ("general.architecture", .string("llama")),
            ("general.name", .string(name)),
            ("general.file_type", .uint32(fileType.fileType)),
            ("general.quantization_version", .uint32(2)),
            ("llama.vocab_size", .uint32(UInt32(c.vocabSize))),
            ("llama.context_length", .uint32(UInt32(c.context))),
            ("llama.embedding_length", .uint32(UInt32(c.dim))),
            ("llama.block_count", .uint32(UInt32(c.layers))),
            ("llama.feed_forward_length", .uint32(UInt32(c.ffnDim))),
            ("llama.rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("llama.attention.head_count", .uint32(UInt32(c.heads))),
            ("llama.attention.head_count_kv", .uint32(UInt32(c.kvHeads))),
            ("llama.attention.layer_norm_rms_epsilon", .float32(Float(c.normEps))),
            ("llama.rope.freq_base", .float32(Float(c.ropeTheta))),
        ]
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
        func int(_ key: String) throws -> Int {
            guard let v = metadata["llama." + key]?.int else { throw TransformerError("\(path): metadata llama.\(key) is missing or not an integer") }
            return v
        }
        guard metadata["general.architecture"]?.string == "llama" else {
            throw TransformerError("\(path): general.architecture is not llama")
        }
        guard let embedding = dimensions["token_embd.weight"], embedding.count == 2 else {
            throw TransformerError("\(path): tensor token_embd.weight is missing")
        }
        let eos = metadata["tokenizer.ggml.eos_token_id"]?.int
        return ModelConfig(vocabSize: embedding[1], dim: try int("embedding_length"), layers: try int("block_count"),
                           heads: try int("attention.head_count"), kvHeads: try int("attention.head_count_kv"),
                           ffnDim: try int("feed_forward_length"), context: try int("context_length"),
                           ropeTheta: metadata["llama.rope.freq_base"]?.float ?? 10000,
                           normEps: metadata["llama.attention.layer_norm_rms_epsilon"]?.float ?? 1e-5,
                           tieEmbeddings: dimensions["output.weight"] == nil, bosTokenId: eos, eosTokenId: eos)
    }

    /// Loads the weights of a GGUF file into a float model of shape `config` (read from
    /// `configPath`: a config.json, or the file itself), dequantizing and undoing the q/k
    /// permutation. The config and every tensor's shape are checked before the model is allocated.
    public static func load(_ file: GGUF.File, config: ModelConfig, configPath: String? = nil, path: String) throws -> TransformerModel {
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
