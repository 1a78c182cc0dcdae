import Foundation
import PipeKit
import Training
import Transformer

/// `distill`: trains a smaller student from a teacher's logits (temperature-scaled KL divergence
/// mixed with cross-entropy on the true next tokens), on the same token shards.
public struct DistillStage: Stage {
    public struct Params: Decodable, Sendable {
        var model: Architecture
        var steps: Int
        var temperature: Double
        var alpha: Double
        var training: TrainingSettings

        enum CodingKeys: String, CodingKey { case model, steps, temperature, alpha }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            model = try c.decode(Architecture.self, forKey: .model)
            steps = try c.decode(Int.self, forKey: .steps)
            temperature = try c.decode(Double.self, forKey: .temperature)
            alpha = try c.decode(Double.self, forKey: .alpha)
            training = try TrainingSettings(from: decoder)
        }
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
    public static let parameters = [
        Architecture.parameter,
        ParamSpec("steps", .int, default: .int(1000), doc: "optimizer steps"),
        ParamSpec("temperature", .float, default: .double(2.0), doc: "softens both distributions; the KL term is scaled by T²"),
        ParamSpec("alpha", .float, default: .double(0.5), doc: "weight of the teacher's soft targets (1 - alpha: the true tokens)"),
    ] + TrainingSettings.parameters

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems = p.model.problems() + p.training.problems()
        if p.steps <= 0 { problems.append(ParamProblem(["steps"], "must be positive")) }
        if p.temperature <= 0 { problems.append(ParamProblem(["temperature"], "must be positive")) }
        if !(0...1).contains(p.alpha) { problems.append(ParamProblem(["alpha"], "must be in [0, 1]")) }
        return problems
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
                              train: try tokens.split("train"), val: try tokens.split("val"), context: context, maxSeconds: nil,
                              fingerprint: "distill \(teacherInput.id) \(tokensInput.id) T=\(p.temperature) a=\(p.alpha)")
        trainer.teacher = Trainer.Distillation(model: teacher, temperature: p.temperature, alpha: p.alpha)
        let summary = try trainer.run()
        try trainer.writeOutputs(summary, model: try context.output("model"), metrics: try context.output("metrics"), state: nil,
                                 extra: ["distill.teacher_parameters": Double(teacher.config.parameterCount)])
    }
}
