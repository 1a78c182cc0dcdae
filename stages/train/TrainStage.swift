import Foundation
import PipeKit
import Training
import Transformer

/// `train`: trains a LLaMA-style decoder on token shards, on the CPU.
///
/// Deterministic for a given thread count and BLAS kernel: initialization, batch order and the
/// order of every reduction are fixed, so a run killed and rerun resumes from its last
/// checkpoint and reproduces the uninterrupted loss curve bit for bit.
public struct TrainStage: Stage {
    public struct Params: Parameters {
        @Param("the network's shape") var model = Architecture()
        @Param("optimizer steps (give steps or tokens; default 1000)", range: .positive) var steps: Int? = nil
        @Param("training tokens; steps = tokens / (batch · context · grad_accum)", range: .positive) var tokens: Int? = nil
        @Param("start the attention output and MLP down projections at zero, so each block starts as the identity") var zero_init = false
        @Param("MPI data-parallel ranks sharing each batch (set resources: {tasks: N} too)", range: .atLeast(1)) var ranks = 1
        @ParamGroup var training: TrainingSettings
        public init() {}
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
        StagePort("model", .model, doc: "config.json (LlamaForCausalLM, or Qwen3ForCausalLM with QK-norm) + model.safetensors"),
        StagePort("metrics", .metrics, doc: "metrics.json, curve.csv and curve.json (loss, val loss, lr, tokens/s)"),
        StagePort("state", .checkpoint, doc: "checkpoint.bin: weights and AdamW moments, to resume or inspect"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems = p.model.problems() + p.training.problems(ranks: p.ranks)
        if p.steps != nil, p.tokens != nil { problems.append(ParamProblem(["tokens"], "give steps or tokens, not both")) }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let tokens = try TokenShards(context.input("tokens"), scratch: context.scratch)
        let meta = tokens.meta
        let train = try tokens.split("train"), val = try tokens.split("val")

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
            if p.zero_init { context.warn("zero_init applies to fresh models; init_from's weights are kept as they are") }
        } else {
            if let problem = config.problems.first { throw StageError("model: \(problem)") }
            model = TransformerModel(config: config)
            model.initialize(seed: UInt64(p.training.seed), zeroResidualProjections: p.zero_init)
        }

        let tokensPerStep = p.training.batch * config.context * p.training.grad_accum
        let steps = p.steps ?? p.tokens.map { max(1, $0 / tokensPerStep) } ?? 1000
        let maxSeconds = try TrainingBudget.read(context.optionalInput("budget"))?.check(config, steps: steps, tokensPerStep: tokensPerStep)
        guard train.count > config.context + 1 else {
            throw StageError("tokens: the train split has \(train.count) tokens, fewer than one sequence of context \(config.context) + 1")
        }

        let data = TokenWindows(train: train, val: val, sequenceLength: config.context, seed: p.training.seed)
        let trainer = Trainer(model: model, settings: p.training, steps: steps, data: data, context: context, maxSeconds: maxSeconds,
                              fingerprint: "\(try context.input("tokens").id) \(context.optionalInput("init_from")?.id ?? "fresh")")
        try trainer.joinWorld(ranks: p.ranks)
        let summary = try trainer.run()
        try trainer.writeOutputs(summary, model: try context.output("model"), metrics: try context.output("metrics"),
                                 state: try context.output("state"))
    }

    static func differences(_ a: ModelConfig, _ b: ModelConfig) -> [String] {
        let fields: [(String, String, String)] = [
            ("vocabulary", "\(a.vocabSize)", "\(b.vocabSize)"), ("dim", "\(a.dim)", "\(b.dim)"), ("layers", "\(a.layers)", "\(b.layers)"),
            ("heads", "\(a.heads)", "\(b.heads)"), ("kv_heads", "\(a.kvHeads)", "\(b.kvHeads)"), ("ffn_dim", "\(a.ffnDim)", "\(b.ffnDim)"),
            ("context", "\(a.context)", "\(b.context)"), ("tie_embeddings", "\(a.tieEmbeddings)", "\(b.tieEmbeddings)"),
            ("qk_norm", "\(a.qkNorm)", "\(b.qkNorm)"),
        ]
        return fields.filter { $0.1 != $0.2 }.map { "\($0.0) is \($0.1) there, \($0.2) here" }
    }
}
