import Foundation
import PipeKit
import Training
import Transformer

/// `distill`: trains a smaller student from a teacher's logits (temperature-scaled KL divergence
/// mixed with cross-entropy on the true next tokens), on the same token shards.
public struct DistillStage: Stage {
    public struct Params: Parameters {
        @Param("the student's shape") var model = Architecture()
        @Param("optimizer steps", range: .positive) var steps = 1000
        @Param("softens both distributions; the KL term is scaled by T²", range: .positive) var temperature = 2.0
        @Param("weight of the teacher's soft targets (1 - alpha: the true tokens)", range: .closed(0, 1)) var alpha = 0.5
        @ParamGroup var training: TrainingSettings
        public init() {}
    }

    public static let name = "distill"
    public static let version = 1
    public static let summary = "Train a smaller student model from a teacher's logits (KL at a temperature, mixed with cross-entropy)."
    public static let inputs = [
        StagePort("teacher", .model, doc: "the model to learn from (float or quantized)"),
        StagePort("tokens", .tokens, doc: "train and val splits (the teacher's vocabulary)"),
    ]
    public static let outputs = [
        StagePort("model", .model, doc: "the student: config.json + model.safetensors"),
        StagePort("metrics", .metrics, doc: "metrics.json, curve.csv, curve.json (val loss is plain cross-entropy)"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        p.model.problems() + p.training.problems()
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let teacherInput = try context.input("teacher")
        let teacher = try ModelFiles.load(from: teacherInput.materialize(into: context.scratch.appendingPathComponent("teacher")))
        let tokensInput = try context.input("tokens")
        let tokens = try TokenShards(tokensInput, scratch: context.scratch)
        let meta = tokens.meta
        guard meta.vocab_size == teacher.config.vocabSize else {
            throw StageError("the teacher's vocabulary (\(teacher.config.vocabSize)) differs from the tokens' (\(meta.vocab_size))")
        }
        let config = p.model.config(vocabulary: meta.vocab_size, endOfText: meta.end_of_text)
        if let problem = config.problems.first { throw StageError("model: \(problem)") }
        guard config.context <= teacher.config.context else {
            throw StageError("the student's context \(config.context) is longer than the teacher's \(teacher.config.context)")
        }
        let student = TransformerModel(config: config)
        student.initialize(seed: UInt64(p.training.seed))
        context.log("teacher: \(teacher.config.parameterCount) parameters; student: \(config.parameterCount)")
        let trainer = Trainer(model: student, settings: p.training, steps: p.steps,
                              data: try TokenWindows(tokens, sequenceLength: config.context, seed: p.training.seed),
                              context: context, maxSeconds: nil,
                              fingerprint: "distill \(teacherInput.id) \(tokensInput.id) T=\(p.temperature) a=\(p.alpha)")
        trainer.teacher = Trainer.Distillation(model: teacher, temperature: p.temperature, alpha: p.alpha)
        let summary = try trainer.run()
        try trainer.writeOutputs(summary, model: try context.output("model"), metrics: try context.output("metrics"), state: nil,
                                 extra: ["distill.teacher_parameters": Double(teacher.config.parameterCount)])
    }
}
