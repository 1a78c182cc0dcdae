/// Where each named weight lives inside the model's one contiguous parameter buffer.
///
/// Names and shapes are Hugging Face's (`model.layers.0.self_attn.q_proj.weight`, `[out, in]`).
/// Within a layer q, k and v sit back to back, and so do gate and up, so each pair or triple is
/// one matrix to BLAS: one product computes all three projections.
public struct ParameterLayout: Sendable {
    /// One named tensor.
    public struct Tensor: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
        /// Norm weights (1-D), which weight decay usually skips.
        public var isNorm: Bool { shape.count == 1 }
        public var isEmbedding: Bool { name == "model.embed_tokens.weight" || name == "lm_head.weight" }

        public init(name: String, shape: [Int], offset: Int) {
            self.name = name
            self.shape = shape
            self.offset = offset
        }
    }

    /// Offsets of one layer's weights.
    public struct Layer: Sendable {
        public let inputNorm, qkv, output, postNorm, gateUp, down: Int
        /// With QK-norm: the query norm's weight, the key norm's right after it (head size each).
        public let qkNorm: Int?
    }

    public let tensors: [Tensor]
    public let layers: [Layer]
    public let embedding: Int
    public let finalNorm: Int
    /// The LM head's offset: the embedding's when tied.
    public let head: Int
    public let count: Int

    public init(_ c: ModelConfig) {
        var tensors: [Tensor] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let t = Tensor(name: name, shape: shape, offset: offset)
            tensors.append(t)
            offset += t.count
            return t.offset
        }
        embedding = add("model.embed_tokens.weight", [c.vocabSize, c.dim])
        var layers: [Layer] = []
        for l in 0..<c.layers {
            let p = "model.layers.\(l)."
            let inputNorm = add(p + "input_layernorm.weight", [c.dim])
            let qkv = add(p + "self_attn.q_proj.weight", [c.dim, c.dim])
            _ = add(p + "self_attn.k_proj.weight", [c.kvDim, c.dim])
            _ = add(p + "self_attn.v_proj.weight", [c.kvDim, c.dim])
            let qkNorm = c.qkNorm ? add(p + "self_attn.q_norm.weight", [c.headDim]) : nil
            if c.qkNorm { _ = add(p + "self_attn.k_norm.weight", [c.headDim]) }
            let output = add(p + "self_attn.o_proj.weight", [c.dim, c.dim])
            let postNorm = add(p + "post_attention_layernorm.weight", [c.dim])
            let gateUp = add(p + "mlp.gate_proj.weight", [c.ffnDim, c.dim])
            _ = add(p + "mlp.up_proj.weight", [c.ffnDim, c.dim])
            let down = add(p + "mlp.down_proj.weight", [c.dim, c.ffnDim])
            layers.append(Layer(inputNorm: inputNorm, qkv: qkv, output: output, postNorm: postNorm, gateUp: gateUp, down: down, qkNorm: qkNorm))
        }
        self.layers = layers
        finalNorm = add("model.norm.weight", [c.dim])
        head = c.tieEmbeddings ? embedding : add("lm_head.weight", [c.vocabSize, c.dim])
        self.tensors = tensors
        count = offset
    }

    public func tensor(named name: String) -> Tensor? { tensors.first { $0.name == name } }
}
