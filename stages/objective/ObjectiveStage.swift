import Foundation
import PipeKit

/// `objective`: declares what the model is for and how success is judged.
///
/// It emits one small artifact per concern (`languages`, `budget`, `targets`, and the whole
/// `objective`) so that each consumer depends only on what it reads: editing a target reruns
/// evaluation, not cleaning or training.
public struct ObjectiveStage: Stage {
    public struct Params: Decodable, Sendable {
        public var task: String
        public var domain: String
        public var languages: [String]
        public var targets: [String: Bound]
        public var budget: Budget
        public var gate: String
    }

    /// A target on one metric: at least `min`, at most `max`, or both.
    public struct Bound: Codable, Sendable, Equatable {
        public var min: Double?
        public var max: Double?
    }

    /// Limits on the model and its training.
    public struct Budget: Codable, Sendable, Equatable {
        public var max_parameters: Int?
        public var max_train_seconds: Double?
        public var max_tokens: Int?
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
    public static let parameters = [
        ParamSpec("task", .choice(["text-generation", "classification", "question-answering", "summarization"]),
                  default: .string("text-generation"), doc: "What the model is for"),
        ParamSpec("domain", .string, default: .string(""), doc: "The kind of text, in words"),
        ParamSpec("languages", .list(.string), default: .array([.string("en")]), doc: "ISO 639-1 codes the data should be in"),
        ParamSpec("targets", .map(.object([
            ParamSpec("min", .float, default: .null, doc: "at least"),
            ParamSpec("max", .float, default: .null, doc: "at most"),
        ])), default: .object([:]), doc: "metric -> {min, max}, e.g. test.perplexity: {max: 60}"),
        ParamSpec("budget", .object([
            ParamSpec("max_parameters", .int, default: .null, doc: "parameters, embeddings included, tied counted once"),
            ParamSpec("max_train_seconds", .float, default: .null, doc: "training stops cleanly after this"),
            ParamSpec("max_tokens", .int, default: .null, doc: "training tokens"),
        ]), default: .object([:]), doc: "limits on model size and training"),
        ParamSpec("gate", .choice(["fail", "warn"]), default: .string("fail"),
                  doc: "fail: an unmet target fails evaluation and skips what needs it; warn: report only"),
    ]

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.languages.isEmpty { problems.append(ParamProblem(["languages"], "name at least one language")) }
        for (i, code) in p.languages.enumerated() where !isLanguageCode(code) {
            problems.append(ParamProblem(["languages", "\(i)"], "'\(code)' is not an ISO 639 code such as en, de or zh"))
        }
        for (metric, bound) in p.targets.sorted(by: { $0.key < $1.key }) {
            if let why = MetricName.problem(with: metric) {
                problems.append(ParamProblem(["targets", metric], why))
                continue
            }
            let range = MetricName.range(of: metric)
            switch (bound.min, bound.max) {
            case (nil, nil):
                problems.append(ParamProblem(["targets", metric], "give min, max or both"))
            case (let lo?, let hi?) where lo > hi:
                problems.append(ParamProblem(["targets", metric], "min \(lo) is above max \(hi): no value can meet it"))
            default:
                if let hi = bound.max, hi < range.lowerBound {
                    problems.append(ParamProblem(["targets", metric, "max"], "\(metric) is never below \(range.lowerBound), so max \(hi) cannot be met"))
                }
                if let lo = bound.min, lo > range.upperBound {
                    problems.append(ParamProblem(["targets", metric, "min"], "\(metric) is never above \(range.upperBound), so min \(lo) cannot be met"))
                }
            }
        }
        if let n = p.budget.max_parameters, n <= 0 { problems.append(ParamProblem(["budget", "max_parameters"], "must be positive")) }
        if let s = p.budget.max_train_seconds, s <= 0 { problems.append(ParamProblem(["budget", "max_train_seconds"], "must be positive")) }
        if let t = p.budget.max_tokens, t <= 0 { problems.append(ParamProblem(["budget", "max_tokens"], "must be positive")) }
        return problems
    }

    static func isLanguageCode(_ code: String) -> Bool {
        (2...3).contains(code.count) && code.allSatisfy { $0.isASCII && $0.isLowercase }
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let languages: JSONValue = .object(["languages": .array(p.languages.map(JSONValue.string))])
        let budget = try JSONValue.encode(p.budget)
        let targets: JSONValue = .object(["gate": .string(p.gate), "targets": try JSONValue.encode(p.targets)])
        let whole: JSONValue = .object([
            "task": .string(p.task), "domain": .string(p.domain), "languages": languages["languages"]!,
            "targets": targets["targets"]!, "gate": .string(p.gate), "budget": budget,
        ])
        try whole.write(to: context.output("objective").appendingPathComponent("objective.json"))
        try languages.write(to: context.output("languages").appendingPathComponent("languages.json"))
        try budget.write(to: context.output("budget").appendingPathComponent("budget.json"))
        try targets.write(to: context.output("targets").appendingPathComponent("targets.json"))
        context.log("objective: \(p.task) on \(p.domain.isEmpty ? "unspecified text" : p.domain), languages \(p.languages.joined(separator: ", ")), \(p.targets.count) target(s), gate \(p.gate)")
    }
}
