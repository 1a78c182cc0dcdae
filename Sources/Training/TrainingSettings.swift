import PipeKit
import Transformer

/// The learning-rate decays, as a manifest choice.
extension LearningRateSchedule.Decay: ParamChoice {}

/// Which optimizer updates the hidden weight matrices.
public enum OptimizerKind: String, ParamChoice {
    /// AdamW for every tensor.
    case adamw
    /// Muon for the attention and MLP matrices, AdamW for embeddings, head and norms.
    case muon
}

/// Muon's settings (`optimizer: muon`), the `muon:` block.
public struct MuonParameters: Parameters {
    @Param("Muon's peak learning rate (the schedule scales it as it scales lr)", range: .positive) public var lr = 0.02
    @Param("momentum μ", range: .halfOpen(0, 1)) public var momentum = 0.95
    @Param("Nesterov momentum") public var nesterov = true
    @Param("Newton-Schulz iterations", range: .closed(1, 20)) public var iterations = 5
    @Param("decoupled weight decay of the matrices, times Muon's rate", range: .nonNegative) public var weight_decay = 0.0

    public init() {}

    var settings: MuonAdamW.Settings {
        MuonAdamW.Settings(lr: Float(lr), momentum: Float(momentum), nesterov: nesterov, iterations: iterations, weightDecay: Float(weight_decay))
    }
}

/// How to optimize: the parameters train, prune (recovery) and distill share, declared at the
/// level of each stage's own parameters (`@ParamGroup`).
public struct TrainingSettings: Parameters {
    @Param("sequences per micro-batch", range: .positive) public var batch = 16
    @Param("micro-batches per optimizer step", range: .positive) public var grad_accum = 1
    @Param("peak learning rate", range: .positive) public var lr = 1e-3
    @Param("learning rate at the end of the decay; default lr / 10", range: .nonNegative) public var min_lr: Double? = nil
    @Param("linear warmup steps", range: .nonNegative) public var warmup = 100
    @Param("decay after warmup; wsd: constant, then linear over the last `cooldown` of the steps") public var schedule = LearningRateSchedule.Decay.cosine
    @Param("wsd: the share of the steps spent decaying at the end", range: .leftOpen(0, 1)) public var cooldown = 0.2
    @Param("adamw, or muon for the hidden matrices (AdamW keeps embeddings, head and norms)") public var optimizer = OptimizerKind.adamw
    @Param("Muon's settings, with optimizer: muon") public var muon = MuonParameters()
    @Param("AdamW β1", range: .halfOpen(0, 1)) public var beta1 = 0.9
    @Param("AdamW β2", range: .halfOpen(0, 1)) public var beta2 = 0.95
    @Param("AdamW ε", range: .positive) public var eps = 1e-8
    @Param("decoupled weight decay", range: .nonNegative) public var weight_decay = 0.1
    @Param("apply weight decay to RMSNorm weights") public var decay_norms = false
    @Param("apply weight decay to the embeddings (GPT-2 does)") public var decay_embeddings = true
    @Param("global gradient-norm clip; 0 turns it off", range: .nonNegative) public var clip = 1.0
    @Param("steps between validation losses (and at the end)", range: .positive) public var eval_every = 100
    @Param("validation tokens per evaluation", range: .positive) public var eval_tokens = 65536
    @Param("steps between checkpoints in the work folder", range: .positive) public var checkpoint_every = 100
    @Param("steps between points of the training curve", range: .positive) public var log_every = 10
    @Param("recompute activations in the backward pass to save memory") public var gradient_checkpointing = false
    @Param("seed of the initialization and the batch order") public var seed = 0

    public init() {}

    /// Range checks, located by parameter name; the batch must split evenly over `ranks`.
    public func problems(ranks: Int = 1) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if let m = min_lr, m > lr { problems.append(ParamProblem(["min_lr"], "must be between 0 and lr \(lr)")) }
        if batch % ranks != 0 { problems.append(ParamProblem(["ranks"], "batch \(batch) must split evenly over \(ranks) ranks")) }
        return problems
    }

    var adamW: AdamW.Settings {
        var s = AdamW.Settings()
        s.beta1 = Float(beta1)
        s.beta2 = Float(beta2)
        s.eps = Float(eps)
        s.weightDecay = Float(weight_decay)
        s.decayNorms = decay_norms
        s.decayEmbeddings = decay_embeddings
        s.clip = Float(clip)
        return s
    }
}

/// A model's shape as a stage's `model:` block (the vocabulary comes from the tokens).
public struct Architecture: Parameters {
    @Param("transformer blocks", range: .positive) public var layers = 4
    @Param("attention heads", range: .positive) public var heads = 4
    @Param("key/value heads (grouped-query attention); default: heads", range: .positive) public var kv_heads: Int? = nil
    @Param("model width", range: .positive) public var dim = 128
    @Param("MLP width, a multiple of 32; default: nearest to 8·dim/3", range: .positive) public var ffn_dim: Int? = nil
    @Param("tokens per training sequence", range: .positive) public var context = 128
    @Param("RoPE base") public var rope_theta = 10000.0
    @Param("RMSNorm epsilon") public var norm_eps = 1e-5
    @Param("share the embedding and the LM head") public var tie_embeddings = true
    @Param("RMS-normalize each head's queries and keys before RoPE (QK-norm; exported as Qwen3)") public var qk_norm = false

    public init() {}

    public func config(vocabulary: Int, endOfText: Int?) -> ModelConfig {
        ModelConfig(vocabSize: vocabulary, dim: dim, layers: layers, heads: heads, kvHeads: kv_heads, ffnDim: ffn_dim,
                    context: context, ropeTheta: rope_theta, normEps: norm_eps, tieEmbeddings: tie_embeddings, qkNorm: qk_norm,
                    bosTokenId: endOfText, eosTokenId: endOfText)
    }

    /// Shape problems, located under `model`.
    public func problems() -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if heads > 0, dim % heads != 0 { problems.append(ParamProblem(["model", "dim"], "dim \(dim) is not a multiple of heads \(heads)")) }
        if heads > 0, dim % heads == 0, (dim / heads) % 2 != 0 {
            problems.append(ParamProblem(["model", "dim"], "the head size dim / heads = \(dim / heads) must be even for RoPE"))
        }
        if let kv = kv_heads, kv > 0, heads % kv != 0 {
            problems.append(ParamProblem(["model", "kv_heads"], "heads \(heads) must be a multiple of kv_heads \(kv)"))
        }
        if let f = ffn_dim, f % 32 != 0 { problems.append(ParamProblem(["model", "ffn_dim"], "must be a positive multiple of 32")) }
        return problems
    }
}
