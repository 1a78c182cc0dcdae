import Foundation

/// The shape of a LLaMA-style decoder, stored as Hugging Face's `LlamaForCausalLM` `config.json`,
/// or as `Qwen3ForCausalLM` when its attention normalizes queries and keys (`qkNorm`).
public struct ModelConfig: Sendable, Equatable, Codable {
    public var vocabSize: Int
    public var dim: Int
    public var layers: Int
    public var heads: Int
    public var kvHeads: Int
    public var ffnDim: Int
    public var context: Int
    public var ropeTheta: Double
    public var normEps: Double
    public var tieEmbeddings: Bool
    /// Each attention head's query and key are RMS-normalized (one learned weight per head
    /// element, shared by the heads) before RoPE: Qwen3's QK-norm.
    public var qkNorm: Bool
    /// Token ids for the start and end of text (the tokenizer's `<|endoftext|>`), when known.
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    public init(vocabSize: Int, dim: Int, layers: Int, heads: Int, kvHeads: Int? = nil, ffnDim: Int? = nil,
                context: Int, ropeTheta: Double = 10000, normEps: Double = 1e-5, tieEmbeddings: Bool = true, qkNorm: Bool = false,
                bosTokenId: Int? = nil, eosTokenId: Int? = nil)
    {
        self.vocabSize = vocabSize
        self.dim = dim
        self.layers = layers
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.ffnDim = ffnDim ?? ModelConfig.defaultFFNDim(dim: dim)
        self.context = context
        self.ropeTheta = ropeTheta
        self.normEps = normEps
        self.tieEmbeddings = tieEmbeddings
        self.qkNorm = qkNorm
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    /// The multiple of 32 nearest 8·dim/3 (DESIGN §8).
    public static func defaultFFNDim(dim: Int) -> Int {
        let target = 8.0 * Double(dim) / 3.0
        return max(32, Int((target / 32).rounded()) * 32)
    }

    public var headDim: Int { dim / heads }
    /// Width of the key (and of the value) projection: kv heads × head size.
    public var kvDim: Int { kvHeads * headDim }

    /// Parameters, embeddings included, tied weights counted once (DESIGN §8).
    public var parameterCount: Int {
        let perLayer = 2 * dim + dim * dim * 2 + 2 * kvDim * dim + 3 * dim * ffnDim + (qkNorm ? 2 * headDim : 0)
        return vocabSize * dim * (tieEmbeddings ? 1 : 2) + layers * perLayer + dim
    }

    /// Training FLOPs per token (forward and backward: 6 per weight use, plus causal attention).
    public var trainingFLOPsPerToken: Double {
        let matrixWeights = Double(layers * (dim * dim * 2 + 2 * kvDim * dim + 3 * dim * ffnDim) + vocabSize * dim)
        let attention = Double(layers) * 2.0 * Double(dim) * Double(context)  // QKᵀ and PV, causal half
        return 6 * matrixWeights + 3 * attention
    }

    /// The largest shapes pipe accepts, named by their `config.json` fields; they bound what a
    /// crafted config can make pipe compute or allocate before the weights are checked against
    /// it, and they are far above any model pipe can train or run.
    public static let limits: [(field: String, value: KeyPath<ModelConfig, Int> & Sendable, range: ClosedRange<Int>)] = [
        ("vocab_size", \.vocabSize, 1...(1 << 24)),
        ("hidden_size", \.dim, 1...(1 << 16)),
        ("num_hidden_layers", \.layers, 1...1024),
        ("num_attention_heads", \.heads, 1...(1 << 16)),
        ("num_key_value_heads", \.kvHeads, 1...(1 << 16)),
        ("intermediate_size", \.ffnDim, 1...(1 << 18)),
        ("max_position_embeddings", \.context, 1...(1 << 20)),
    ]

    /// The most entries of each RoPE table (sine and cosine, context × head size / 2) a model
    /// may need: 2^24, 64 MiB per table (a 128k context at head size 128 needs 2^23).
    public static let maxRopeEntries = 1 << 24

    /// Problems with the shape, each a sentence naming the field; a config without problems
    /// has a parameter count and buffers that can be computed without overflow.
    public var problems: [String] {
        let outside = Self.limits.filter { !$0.range.contains(self[keyPath: $0.value]) }
        if !outside.isEmpty {
            return outside.map { "\($0.field) is \(self[keyPath: $0.value]), outside \($0.range.lowerBound)...\($0.range.upperBound)" }
        }
        var out: [String] = []
        if dim % heads != 0 { out.append("hidden_size \(dim) is not a multiple of num_attention_heads \(heads)") }
        if dim % heads == 0, headDim % 2 != 0 { out.append("head size \(headDim) (hidden_size / num_attention_heads) must be even for RoPE") }
        if heads % kvHeads != 0 { out.append("num_attention_heads \(heads) is not a multiple of num_key_value_heads \(kvHeads)") }
        if ffnDim % 32 != 0 { out.append("intermediate_size \(ffnDim) must be a multiple of 32") }
        if dim % heads == 0, context * (headDim / 2) > Self.maxRopeEntries {
            out.append("max_position_embeddings \(context) × head size \(headDim) / 2 is over the \(Self.maxRopeEntries) RoPE entries allowed")
        }
        if !(ropeTheta > 0) || !ropeTheta.isFinite { out.append("rope_theta \(ropeTheta) must be positive and finite") }
        if !(normEps >= 0) || !normEps.isFinite { out.append("rms_norm_eps \(normEps) must be finite and not negative") }
        for (field, id) in [("bos_token_id", bosTokenId), ("eos_token_id", eosTokenId)] {
            if let id, !(0..<vocabSize).contains(id) { out.append("\(field) \(id) is outside the vocabulary 0..<\(vocabSize)") }
        }
        return out
    }

    enum CodingKeys: String, CodingKey {
        case vocabSize = "vocab_size", dim = "hidden_size", layers = "num_hidden_layers"
        case heads = "num_attention_heads", kvHeads = "num_key_value_heads", ffnDim = "intermediate_size"
        case context = "max_position_embeddings", ropeTheta = "rope_theta", normEps = "rms_norm_eps"
        case tieEmbeddings = "tie_word_embeddings", bosTokenId = "bos_token_id", eosTokenId = "eos_token_id"
        case architectures, modelType = "model_type", hiddenAct = "hidden_act", torchDtype = "torch_dtype"
        case attentionBias = "attention_bias", mlpBias = "mlp_bias", headDim = "head_dim"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let heads = try c.decode(Int.self, forKey: .heads)
        let modelType = try c.decodeIfPresent(String.self, forKey: .modelType) ?? "llama"
        guard Self.modelTypes.contains(modelType) else {
            throw FieldProblem("model_type \(modelType) is not one of \(Self.modelTypes.joined(separator: ", "))")
        }
        self.init(vocabSize: try c.decode(Int.self, forKey: .vocabSize), dim: try c.decode(Int.self, forKey: .dim),
                  layers: try c.decode(Int.self, forKey: .layers), heads: heads,
                  kvHeads: try c.decodeIfPresent(Int.self, forKey: .kvHeads) ?? heads,
                  ffnDim: try c.decode(Int.self, forKey: .ffnDim),
                  context: try c.decode(Int.self, forKey: .context),
                  ropeTheta: try c.decodeIfPresent(Double.self, forKey: .ropeTheta) ?? 10000,
                  normEps: try c.decodeIfPresent(Double.self, forKey: .normEps) ?? 1e-6,
                  tieEmbeddings: try c.decodeIfPresent(Bool.self, forKey: .tieEmbeddings) ?? true,
                  qkNorm: modelType == "qwen3",
                  bosTokenId: try c.decodeIfPresent(Int.self, forKey: .bosTokenId),
                  eosTokenId: try c.decodeIfPresent(Int.self, forKey: .eosTokenId))
        // A shape with problems is refused by `problems`, which names them; a sound one must agree.
        if let declared = try c.decodeIfPresent(Int.self, forKey: .headDim), problems.isEmpty, declared != headDim {
            throw FieldProblem("head_dim \(declared) is not hidden_size / num_attention_heads = \(headDim)")
        }
    }

    /// A field of a config.json that is well-formed JSON but describes a model pipe cannot run.
    public struct FieldProblem: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    /// The `model_type`s pipe reads: LLaMA, and Qwen3 (LLaMA with QK-norm).
    public static let modelTypes = ["llama", "qwen3"]

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode([qkNorm ? "Qwen3ForCausalLM" : "LlamaForCausalLM"], forKey: .architectures)
        try c.encode(qkNorm ? "qwen3" : "llama", forKey: .modelType)
        try c.encode("silu", forKey: .hiddenAct)
        try c.encode("float32", forKey: .torchDtype)
        try c.encode(false, forKey: .attentionBias)
        try c.encode(false, forKey: .mlpBias)
        try c.encode(headDim, forKey: .headDim)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(dim, forKey: .dim)
        try c.encode(layers, forKey: .layers)
        try c.encode(heads, forKey: .heads)
        try c.encode(kvHeads, forKey: .kvHeads)
        try c.encode(ffnDim, forKey: .ffnDim)
        try c.encode(context, forKey: .context)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(normEps, forKey: .normEps)
        try c.encode(tieEmbeddings, forKey: .tieEmbeddings)
        try c.encodeIfPresent(bosTokenId, forKey: .bosTokenId)
        try c.encodeIfPresent(eosTokenId, forKey: .eosTokenId)
    }
}
