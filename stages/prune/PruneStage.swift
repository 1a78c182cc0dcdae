import Foundation
import PipeKit
import Training
import Transformer

/// `prune`: magnitude pruning of the model's matrices to a target sparsity, over all of them at
/// once (global) or each on its own (layer), with optional recovery fine-tuning that keeps the
/// pruned weights at zero.
public struct PruneStage: Stage {
    public struct Params: Parameters {
        @Param("fraction of the matrices' weights set to zero", range: .halfOpen(0, 1)) var sparsity = 0.5
        @Param("global: one magnitude threshold over all matrices; layer: the same fraction in each matrix") var scope = Scope.global
        @Param("fine-tuning steps after pruning (needs the tokens input)", range: .nonNegative) var recovery_steps = 0
        @ParamGroup var training: TrainingSettings
        public init() {}
    }

    /// Where the magnitude threshold applies.
    enum Scope: String, ParamChoice { case global, layer }

    public static let name = "prune"
    public static let version = 1
    public static let summary = "Magnitude-prune a model's matrices to a target sparsity, with optional recovery fine-tuning."
    public static let inputs = [
        StagePort("model", .model, doc: "a float model"),
        StagePort("tokens", .tokens, optional: true, doc: "train and val splits, for recovery fine-tuning"),
    ]
    public static let outputs = [
        StagePort("model", .model, doc: "config.json + model.safetensors with the pruned weights at zero"),
        StagePort("metrics", .metrics, doc: "metrics.json: achieved sparsity (pruned matrices and whole model), recovery curve"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        p.training.problems()
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let input = try context.input("model")
        let folder = try input.materialize(into: context.scratch.appendingPathComponent("model"))
        let model = try ModelFiles.load(from: folder)
        // The layers' matrices; embeddings (and the head) and norms stay dense, as is usual.
        let prunable = model.layout.tensors.filter { !$0.isNorm && !$0.isEmbedding }
        let keep = Self.mask(model, prunable, sparsity: p.sparsity, global: p.scope == .global)
        Self.apply(keep, to: model)

        var extra = Self.sparsity(model, prunable)
        let out = try context.output("model"), metricsFolder = try context.output("metrics")
        if p.recovery_steps > 0 {
            guard let tokensInput = context.optionalInput("tokens") else {
                throw StageError("recovery_steps \(p.recovery_steps) needs the tokens input")
            }
            let tokens = try TokenShards(tokensInput, scratch: context.scratch)
            let trainer = Trainer(model: model, settings: p.training, steps: p.recovery_steps,
                                  data: try TokenWindows(tokens, sequenceLength: model.config.context, seed: p.training.seed),
                                  context: context, maxSeconds: nil,
                                  fingerprint: "prune \(input.id) \(tokensInput.id) \(p.sparsity) \(p.scope.rawValue)")
            trainer.afterStep = { Self.apply(keep, to: $0) }
            let summary = try trainer.run()
            extra = Self.sparsity(model, prunable)
            try trainer.writeOutputs(summary, model: out, metrics: metricsFolder, state: nil, extra: extra)
        } else {
            try ModelFiles.save(model, to: out)
            for (k, v) in extra.sorted(by: { $0.key < $1.key }) { context.metric(k, v) }
            try JSONValue.object(extra.mapValues(JSONValue.double)).write(to: metricsFolder.appendingPathComponent("metrics.json"))
        }
        context.log(String(format: "sparsity %.4f of the pruned matrices, %.4f of all parameters",
                           extra["prune.sparsity"]!, extra["prune.model_sparsity"]!))
    }

    /// Which parameters survive (true) for the given sparsity: the smallest magnitudes go.
    static func mask(_ model: TransformerModel, _ tensors: [ParameterLayout.Tensor], sparsity: Double, global: Bool) -> [Bool] {
        var keep = [Bool](repeating: true, count: model.parameters.count)
        let groups = global ? [tensors] : tensors.map { [$0] }
        for group in groups {
            var magnitudes: [(Float, Int)] = []
            for t in group { for i in t.offset..<t.offset + t.count { magnitudes.append((abs(model.parameters.pointer[i]), i)) } }
            magnitudes.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            for (_, index) in magnitudes.prefix(Int(sparsity * Double(magnitudes.count))) { keep[index] = false }
        }
        return keep
    }

    static func apply(_ keep: [Bool], to model: TransformerModel) {
        for (i, k) in keep.enumerated() where !k { model.parameters.pointer[i] = 0 }
    }

    /// Zeros among the pruned matrices and among all parameters.
    static func sparsity(_ model: TransformerModel, _ tensors: [ParameterLayout.Tensor]) -> [String: Double] {
        var zeros = 0, total = 0
        for t in tensors { for i in t.offset..<t.offset + t.count where model.parameters.pointer[i] == 0 { zeros += 1 }; total += t.count }
        return ["prune.sparsity": Double(zeros) / Double(max(total, 1)),
                "prune.model_sparsity": Double(zeros) / Double(model.parameters.count)]
    }
}
