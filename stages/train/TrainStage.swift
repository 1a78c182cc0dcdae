import Foundation
import PipeKit
import Transformer

/// `train`: trains a LLaMA-style decoder on token shards, on the CPU.
///
/// Deterministic for a given thread count and BLAS kernel: initialization, batch order and the
/// order of every reduction are fixed, so a run killed and rerun resumes from its last
/// checkpoint and reproduces the uninterrupted loss curve bit for bit.
public struct TrainStage: Stage {
    public struct Params: Decodable, Sendable {
        var model: Architecture
        var steps: Int?
        var tokens: Int?
        var batch: Int
        var grad_accum: Int
        var lr: Double
        var min_lr: Double?
        var warmup: Int
        var schedule: String
        var beta1: Double
        var beta2: Double
        var eps: Double
        var weight_decay: Double
        var decay_norms: Bool
        var decay_embeddings: Bool
        var clip: Double
        var eval_every: Int
        var eval_tokens: Int
        var checkpoint_every: Int
        var log_every: Int
        var gradient_checkpointing: Bool
        var seed: Int
    }

    /// The `model:` block: the network's shape (the vocabulary comes from the tokens).
    struct Architecture: Decodable, Sendable {
        var layers: Int
        var heads: Int
        var kv_heads: Int?
        var dim: Int
        var ffn_dim: Int?
        var context: Int
        var rope_theta: Double
        var norm_eps: Double
        var tie_embeddings: Bool

        func config(vocabulary: Int, endOfText: Int?) -> ModelConfig {
            ModelConfig(vocabSize: vocabulary, dim: dim, layers: layers, heads: heads, kvHeads: kv_heads, ffnDim: ffn_dim,
                        context: context, ropeTheta: rope_theta, normEps: norm_eps, tieEmbeddings: tie_embeddings,
                        bosTokenId: endOfText, eosTokenId: endOfText)
        }
    }

    public static let name = "train"
    public static let version = 1
    public static let summary = "Train a LLaMA-style decoder on token shards (CPU, BLAS; resumable, deterministic)."
    public static let inputs = [
        StagePort("tokens", .tokens, doc: "train and val splits"),
        StagePort("budget", .budget, optional: true, doc: "refuse a model over max_parameters; stop at max_train_seconds"),
        StagePort("init_from", .model, optional: true, doc: "continue training this model instead of a fresh one"),
    ]
    public static let outputs = [
        StagePort("model", .model, doc: "config.json (LlamaForCausalLM) + model.safetensors"),
        StagePort("metrics", .metrics, doc: "metrics.json, curve.csv and curve.json (loss, val loss, lr, tokens/s)"),
        StagePort("state", .checkpoint, doc: "checkpoint.bin: weights and AdamW moments, to resume or inspect"),
    ]
    public static let parameters = [
        ParamSpec("model", .object([
            ParamSpec("layers", .int, default: .int(4), doc: "transformer blocks"),
            ParamSpec("heads", .int, default: .int(4), doc: "attention heads"),
            ParamSpec("kv_heads", .int, default: .null, doc: "key/value heads (grouped-query attention); default: heads"),
            ParamSpec("dim", .int, default: .int(128), doc: "model width"),
            ParamSpec("ffn_dim", .int, default: .null, doc: "MLP width, a multiple of 32; default: nearest to 8·dim/3"),
            ParamSpec("context", .int, default: .int(128), doc: "tokens per training sequence"),
            ParamSpec("rope_theta", .float, default: .double(10000), doc: "RoPE base"),
            ParamSpec("norm_eps", .float, default: .double(1e-5), doc: "RMSNorm epsilon"),
            ParamSpec("tie_embeddings", .bool, default: .bool(true), doc: "share the embedding and the LM head"),
        ]), default: .object([:]), doc: "the network's shape"),
        ParamSpec("steps", .int, default: .null, doc: "optimizer steps (give steps or tokens; default 1000)"),
        ParamSpec("tokens", .int, default: .null, doc: "training tokens; steps = tokens / (batch · context · grad_accum)"),
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

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        let a = p.model
        for (field, value) in [("layers", a.layers), ("heads", a.heads), ("dim", a.dim), ("context", a.context)] where value <= 0 {
            problems.append(ParamProblem(["model", field], "must be positive"))
        }
        if a.heads > 0, a.dim % a.heads != 0 { problems.append(ParamProblem(["model", "dim"], "dim \(a.dim) is not a multiple of heads \(a.heads)")) }
        if a.heads > 0, a.dim % a.heads == 0, (a.dim / a.heads) % 2 != 0 {
            problems.append(ParamProblem(["model", "dim"], "the head size dim / heads = \(a.dim / a.heads) must be even for RoPE"))
        }
        if let kv = a.kv_heads, kv <= 0 || a.heads % kv != 0 {
            problems.append(ParamProblem(["model", "kv_heads"], "heads \(a.heads) must be a multiple of kv_heads \(kv)"))
        }
        if let f = a.ffn_dim, f <= 0 || f % 32 != 0 { problems.append(ParamProblem(["model", "ffn_dim"], "must be a positive multiple of 32")) }
        if p.steps != nil, p.tokens != nil { problems.append(ParamProblem(["tokens"], "give steps or tokens, not both")) }
        if let s = p.steps, s <= 0 { problems.append(ParamProblem(["steps"], "must be positive")) }
        if let t = p.tokens, t <= 0 { problems.append(ParamProblem(["tokens"], "must be positive")) }
        for (field, value) in [("batch", p.batch), ("grad_accum", p.grad_accum), ("eval_every", p.eval_every),
                               ("eval_tokens", p.eval_tokens), ("checkpoint_every", p.checkpoint_every), ("log_every", p.log_every)] where value <= 0 {
            problems.append(ParamProblem([field], "must be positive"))
        }
        if p.lr <= 0 { problems.append(ParamProblem(["lr"], "must be positive")) }
        if let m = p.min_lr, m < 0 || m > p.lr { problems.append(ParamProblem(["min_lr"], "must be between 0 and lr \(p.lr)")) }
        if p.warmup < 0 { problems.append(ParamProblem(["warmup"], "must not be negative")) }
        for (field, value) in [("beta1", p.beta1), ("beta2", p.beta2)] where !(0..<1).contains(value) {
            problems.append(ParamProblem([field], "must be in [0, 1)"))
        }
        if p.eps <= 0 { problems.append(ParamProblem(["eps"], "must be positive")) }
        if p.weight_decay < 0 { problems.append(ParamProblem(["weight_decay"], "must not be negative")) }
        if p.clip < 0 { problems.append(ParamProblem(["clip"], "must not be negative (0 turns clipping off)")) }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let tokensFolder = try context.input("tokens").materialize(into: context.scratch.appendingPathComponent("tokens"))
        let meta = try TokensMeta.read(from: tokensFolder)
        let train = try TokenSplit("train", folder: tokensFolder, meta: meta)
        let val = try TokenSplit("val", folder: tokensFolder, meta: meta)

        let model: TransformerModel
        let config = p.model.config(vocabulary: meta.vocab_size, endOfText: meta.end_of_text)
        if let initial = context.optionalInput("init_from") {
            let folder = try initial.materialize(into: context.scratch.appendingPathComponent("init"))
            model = try ModelFiles.load(from: folder)
            let differences = Self.differences(model.config, config)
            guard differences.isEmpty else {
                throw StageError("init_from: the model's shape differs from with.model: \(differences.joined(separator: ", "))")
            }
            context.log("continuing from model \(initial.id)")
        } else {
            if let problem = config.problems.first { throw StageError("model: \(problem)") }
            model = TransformerModel(config: config)
            model.initialize(seed: UInt64(p.seed))
        }

        let tokensPerStep = p.batch * config.context * p.grad_accum
        let steps = p.steps ?? p.tokens.map { max(1, $0 / tokensPerStep) } ?? 1000
        var maxSeconds: Double?
        if let budget = context.optionalInput("budget") {
            let limits = try JSONDecoder().decode(Budget.self, from: budget.read("budget.json"))
            if let cap = limits.max_parameters, config.parameterCount > cap {
                throw StageError("budget: the model has \(config.parameterCount) parameters (embeddings included, tied counted once), over max_parameters \(cap); shrink dim, layers or the vocabulary")
            }
            if let cap = limits.max_tokens, steps * tokensPerStep > cap {
                throw StageError("budget: training would use \(steps * tokensPerStep) tokens (\(steps) steps × \(tokensPerStep)), over max_tokens \(cap)")
            }
            maxSeconds = limits.max_train_seconds
        }
        guard train.count > config.context + 1 else {
            throw StageError("tokens: the train split has \(train.count) tokens, fewer than one sequence of context \(config.context) + 1")
        }

        let trainer = Trainer(model: model, params: p, steps: steps, train: train, val: val, context: context, maxSeconds: maxSeconds,
                              fingerprint: "\(try context.input("tokens").id) \(context.optionalInput("init_from")?.id ?? "fresh")")
        let summary = try trainer.run()

        let modelFolder = try context.output("model")
        try ModelFiles.save(model, to: modelFolder, metadata: ["pipe.steps": "\(summary.steps)"])
        try trainer.writeMetrics(summary, bytesPerToken: meta.bytes_per_token, to: try context.output("metrics"))
        try FileManager.default.copyItem(at: context.work.appendingPathComponent(Checkpoint.fileName),
                                         to: try context.output("state").appendingPathComponent(Checkpoint.fileName))
    }

    /// The budget fields training reads.
    struct Budget: Decodable {
        var max_parameters: Int?
        var max_train_seconds: Double?
        var max_tokens: Int?
    }

    static func differences(_ a: ModelConfig, _ b: ModelConfig) -> [String] {
        let fields: [(String, String, String)] = [
            ("vocabulary", "\(a.vocabSize)", "\(b.vocabSize)"), ("dim", "\(a.dim)", "\(b.dim)"), ("layers", "\(a.layers)", "\(b.layers)"),
            ("heads", "\(a.heads)", "\(b.heads)"), ("kv_heads", "\(a.kvHeads)", "\(b.kvHeads)"), ("ffn_dim", "\(a.ffnDim)", "\(b.ffnDim)"),
            ("context", "\(a.context)", "\(b.context)"), ("tie_embeddings", "\(a.tieEmbeddings)", "\(b.tieEmbeddings)"),
        ]
        return fields.filter { $0.1 != $0.2 }.map { "\($0.0) is \($0.1) there, \($0.2) here" }
    }
}
