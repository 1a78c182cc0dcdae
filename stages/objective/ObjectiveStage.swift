import Foundation
import PipeKit

/// `objective`: declares what the model is for and how success is judged.
///
/// It emits one small artifact per concern (`languages`, `budget`, `targets`, and the whole
/// `objective`) so that each consumer depends only on what it reads: editing a target reruns
/// evaluation, not cleaning or training.
public struct ObjectiveStage: Stage {
    public struct Params: Parameters {
        @Param("What the model is for") public var task = Task.text_generation
        @Param("The kind of text, in words") public var domain = ""
        @Param("ISO 639-1 codes the data should be in") public var languages = ["en"]
        @Param("metric -> {min, max}, e.g. test.perplexity: {max: 60}") public var targets: [String: MetricBound] = [:]
        @Param("limits on model size and training") public var budget = Budget()
        @Param("fail: an unmet target fails evaluation and skips what needs it; warn: report only") public var gate = GateMode.fail
        public init() {}
    }

    /// What the model is for.
    public enum Task: String, ParamChoice {
        case text_generation = "text-generation", classification, question_answering = "question-answering", summarization
    }

    /// Limits on the model and its training.
    public struct Budget: Parameters, Equatable {
        @Param("parameters, embeddings included, tied counted once", range: .positive) public var max_parameters: Int? = nil
        @Param("training stops cleanly after this", range: .positive) public var max_train_seconds: Double? = nil
        @Param("training tokens", range: .positive) public var max_tokens: Int? = nil
        public init() {}
    }

    public static let name = "objective"
    public static let version = 1
    public static let summary = "Declare the use case, languages, metric targets and budget; gates check against it."
    public static let inputs: [StagePort] = []
    public static let outputs = [
        StagePort("objective", .objective, doc: "objective.json: everything below together"),
        StagePort("languages", .languages, doc: "languages.json: {\"languages\": [\"en\"]}"),
        StagePort("budget", .budget, doc: "budget.json: max_parameters, max_train_seconds, max_tokens"),
        StagePort("targets", .targets, doc: "targets.json: {\"gate\": \"fail\", \"targets\": {metric: {min|max}}}"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.languages.isEmpty { problems.append(ParamProblem(["languages"], "name at least one language")) }
        for (i, code) in p.languages.enumerated() where !isLanguageCode(code) {
            problems.append(ParamProblem(["languages", "\(i)"], "'\(code)' is not an ISO 639 code such as en, de or zh"))
        }
        problems += MetricBound.problems(p.targets, under: "targets")
        return problems
    }

    static func isLanguageCode(_ code: String) -> Bool {
        (2...3).contains(code.count) && code.allSatisfy { $0.isASCII && $0.isLowercase }
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let languages: JSONValue = .object(["languages": .array(p.languages.map(JSONValue.string))])
        let budget = p.budget.paramJSON.withoutNullFields
        let targets: JSONValue = .object(["gate": p.gate.paramJSON, "targets": p.targets.paramJSON.withoutNullFields])
        let whole: JSONValue = .object([
            "task": p.task.paramJSON, "domain": .string(p.domain), "languages": languages["languages"]!,
            "targets": targets["targets"]!, "gate": p.gate.paramJSON, "budget": budget,
        ])
        try whole.write(to: context.output("objective").appendingPathComponent("objective.json"))
        try languages.write(to: context.output("languages").appendingPathComponent("languages.json"))
        try budget.write(to: context.output("budget").appendingPathComponent("budget.json"))
        try targets.write(to: context.output("targets").appendingPathComponent("targets.json"))
        context.log("objective: \(p.task.rawValue) on \(p.domain.isEmpty ? "unspecified text" : p.domain), languages \(p.languages.joined(separator: ", ")), \(p.targets.count) target(s), gate \(p.gate.rawValue)")
    }
}
