import PipeKit
import Transformer

/// How to optimize: the parameters train, prune (recovery) and distill share, decoded from the
/// same `with:` block as each stage's own parameters.
public struct TrainingSettings: Decodable, Sendable {
    public var batch: Int
    public var grad_accum: Int
    public var lr: Double
    public var min_lr: Double?
    public var warmup: Int
    public var schedule: String
    public var beta1: Double
    public var beta2: Double
    public var eps: Double
    public var weight_decay: Double
    public var decay_norms: Bool
    public var decay_embeddings: Bool
    public var clip: Double
    public var eval_every: Int
    public var eval_tokens: Int
    public var checkpoint_every: Int
    public var log_every: Int
    public var gradient_checkpointing: Bool
    public var seed: Int

    /// Their schema, with defaults, for each stage's `parameters`.
    public static let parameters = [
        ParamSpec("batch", .int, default: .int(16), doc: "sequences per micro-batch"),
        ParamSpec("grad_accum", .int, default: .int(1), doc: "micro-batches per optimizer step"),
        ParamSpec("lr", .float, default: .double(1e-3), doc: "peak learning rate"),
        ParamSpec("min_lr", .float, default: .null, doc: "learning rate at the end of the decay; default lr / 10"),
        ParamSpec("warmup", .int, default: .int(100), doc: "linear warmup steps"),
        ParamSpec("schedule", .choice(LearningRateSchedule.Decay.allCases.map(\.rawValue)), default: .string("cosine"),
                  doc: "decay after warmup"),
        ParamSpec("beta1", .float, default: .double(0.9), doc: "AdamW β1"),
        ParamSpec("beta2", .float, default: .double(0.95), doc: "AdamW β2"),
        ParamSpec("eps", .float, default: .double(1e-8), doc: "AdamW ε"),
        ParamSpec("weight_decay", .float, default: .double(0.1), doc: "decoupled weight decay"),
        ParamSpec("decay_norms", .bool, default: .bool(false), doc: "apply weight decay to RMSNorm weights"),
        ParamSpec("decay_embeddings", .bool, default: .bool(true), doc: "apply weight decay to the embeddings (GPT-2 does)"),
        ParamSpec("clip", .float, default: .double(1.0), doc: "global gradient-norm clip; 0 turns it off"),
        ParamSpec("eval_every", .int, default: .int(100), doc: "steps between validation losses (and at the end)"),
        ParamSpec("eval_tokens", .int, default: .int(65536), doc: "validation tokens per evaluation"),
        ParamSpec("checkpoint_every", .int, default: .int(100), doc: "steps between checkpoints in the work folder"),
        ParamSpec("log_every", .int, default: .int(10), doc: "steps between points of the training curve"),
        ParamSpec("gradient_checkpointing", .bool, default: .bool(false), doc: "recompute activations in the backward pass to save memory"),
        ParamSpec("seed", .int, default: .int(0), doc: "seed of the initialization and the batch order"),
    ]

    /// Range checks, located by parameter name.
    public func problems() -> [ParamProblem] {
        var problems: [ParamProblem] = []
        for (field, value) in [("batch", batch), ("grad_accum", grad_accum), ("eval_every", eval_every),
                               ("eval_tokens", eval_tokens), ("checkpoint_every", checkpoint_every), ("log_every", log_every)] where value <= 0 {
            problems.append(ParamProblem([field], "must be positive"))
        }
        if lr <= 0 { problems.append(ParamProblem(["lr"], "must be positive")) }
        if let m = min_lr, m < 0 || m > lr { problems.append(ParamProblem(["min_lr"], "must be between 0 and lr \(lr)")) }
        if warmup < 0 { problems.append(ParamProblem(["warmup"], "must not be negative")) }
        for (field, value) in [("beta1", beta1), ("beta2", beta2)] where !(0..<1).contains(value) {
            problems.append(ParamProblem([field], "must be in [0, 1)"))
        }
        if eps <= 0 { problems.append(ParamProblem(["eps"], "must be positive")) }
        if weight_decay < 0 { problems.append(ParamProblem(["weight_decay"], "must not be negative")) }
        if clip < 0 { problems.append(ParamProblem(["clip"], "must not be negative (0 turns clipping off)")) }
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
public struct Architecture: Decodable, Sendable {
    public var layers: Int
    public var heads: Int
    public var kv_heads: Int?
    public var dim: Int
    public var ffn_dim: Int?
    public var context: Int
    public var rope_theta: Double
    public var norm_eps: Double
    public var tie_embeddings: Bool

    public func config(vocabulary: Int, endOfText: Int?) -> ModelConfig {
        ModelConfig(vocabSize: vocabulary, dim: dim, layers: layers, heads: heads, kvHeads: kv_heads, ffnDim: ffn_dim,
                    context: context, ropeTheta: rope_theta, normEps: norm_eps, tieEmbeddings: tie_embeddings,
                    bosTokenId: endOfText, eosTokenId: endOfText)
    }

    /// The `model:` parameter.
    public static let parameter = ParamSpec("model", .object([
        ParamSpec("layers", .int, default: .int(4), doc: "transformer blocks"),
        ParamSpec("heads", .int, default: .int(4), doc: "attention heads"),
        ParamSpec("kv_heads", .int, default: .null, doc: "key/value heads (grouped-query attention); default: heads"),
        ParamSpec("dim", .int, default: .int(128), doc: "model width"),
        ParamSpec("ffn_dim", .int, default: .null, doc: "MLP width, a multiple of 32; default: nearest to 8·dim/3"),
        ParamSpec("context", .int, default: .int(128), doc: "tokens per training sequence"),
        ParamSpec("rope_theta", .float, default: .double(10000), doc: "RoPE base"),
        ParamSpec("norm_eps", .float, default: .double(1e-5), doc: "RMSNorm epsilon"),
        ParamSpec("tie_embeddings", .bool, default: .bool(true), doc: "share the embedding and the LM head"),
    ]), default: .object([:]), doc: "the network's shape")

    /// Shape problems, located under `model`.
    public func problems() -> [ParamProblem] {
        var problems: [ParamProblem] = []
        for (field, value) in [("layers", layers), ("heads", heads), ("dim", dim), ("context", context)] where value <= 0 {
            problems.append(ParamProblem(["model", field], "must be positive"))
        }
        if heads > 0, dim % heads != 0 { problems.append(ParamProblem(["model", "dim"], "dim \(dim) is not a multiple of heads \(heads)")) }
        if heads > 0, dim % heads == 0, (dim / heads) % 2 != 0 {
            problems.append(ParamProblem(["model", "dim"], "the head size dim / heads = \(dim / heads) must be even for RoPE"))
        }
        if let kv = kv_heads, kv <= 0 || heads % kv != 0 {
            problems.append(ParamProblem(["model", "kv_heads"], "heads \(heads) must be a multiple of kv_heads \(kv)"))
        }
        if let f = ffn_dim, f <= 0 || f % 32 != 0 { problems.append(ParamProblem(["model", "ffn_dim"], "must be a positive multiple of 32")) }
        return problems
    }
}
