import Foundation
import PipeKit

/// `promote`: names a model the current one for an alias (`models/<alias>.json`), when its
/// decision says so: a `decision` input whose `gates.json` (evaluate's or monitor's) has every
/// target met, or whose `decision.json` says `promote: true`; with no decision input, always.
/// The model and tokenizer files are copied into the registry (`models/<alias>/<ids>/`), so the
/// alias does not depend on the cache; the record keeps every earlier promotion, and
/// `pipe promote ALIAS --rollback` restores the previous one. `pipe serve --alias` follows it.
public struct PromoteStage: Stage {
    public struct Params: Parameters {
        @Param("the alias to point at the model (a file name: letters, digits, _ - .)") var alias: String
        @Param("the registry folder, in the workspace") var registry = "models"
        public init() {}
    }

    public static let name = "promote"
    public static let version = 1
    public static let summary = "Point an alias (models/<alias>.json) at a model when its decision passes, keeping the history."
    public static let inputs = [
        StagePort("model", .model, doc: "the candidate"),
        StagePort("tokenizer", .tokenizer, doc: "its tokenizer"),
        StagePort("decision", .metrics, optional: true, doc: "gates.json (every target met) or decision.json ({promote, reasons})"),
    ]
    public static let outputs = [
        StagePort("promotion", .metrics, doc: "promotion.json (promoted or not, and why) + metrics.json (promote.promoted)"),
    ]

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if let problem = ModelAlias.problem(name: p.alias) { problems.append(ParamProblem(["alias"], problem)) }
        if p.registry.isEmpty { problems.append(ParamProblem(["registry"], "name a folder")) }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let model = try context.input("model"), tokenizer = try context.input("tokenizer")
        let (promote, reasons) = try Self.decide(context.optionalInput("decision"))
        let registry = ModelAlias.registry(p.registry, workspace: context.workspace)
        let record = try ModelAlias.read(p.alias, registry: registry)
        if promote {
            let folder = "\(p.alias)/\(model.id.prefix(16))-\(tokenizer.id.prefix(16))"
            try Self.copy(model: model, tokenizer: tokenizer, into: registry.appendingPathComponent(folder))
            let entry = ModelAlias.Entry(model: model.id, tokenizer: tokenizer.id, folder: folder, stage: context.stageName,
                                         time: Date().formatted(.iso8601), reasons: reasons)
            if record?.current.model == model.id, record?.current.tokenizer == tokenizer.id {
                context.log("alias '\(p.alias)' already points at model \(model.id)")
            } else {
                var updated = record ?? ModelAlias(alias: p.alias, current: entry)
                if record != nil { updated.promote(entry) }
                try updated.write(registry: registry)
                context.log("alias '\(p.alias)' now points at model \(model.id): " + reasons.joined(separator: "; "))
            }
        } else {
            context.warn("not promoted: " + reasons.joined(separator: "; ")
                         + (record.map { "; alias '\(p.alias)' stays on model \($0.current.model)" } ?? ""))
        }
        let out = try context.output("promotion")
        try JSONValue.object(["alias": .string(p.alias), "promoted": .bool(promote), "model": .string(model.id),
                              "reasons": .array(reasons.map(JSONValue.string))]).write(to: out.appendingPathComponent("promotion.json"))
        try JSONValue.object(["promote.promoted": .double(promote ? 1 : 0)]).write(to: out.appendingPathComponent("metrics.json"))
        context.metric("promote.promoted", promote ? 1 : 0)
    }

    /// Whether to promote, and why: from the decision's gates or its verdict.
    static func decide(_ decision: (any ArtifactReading)?) throws -> (Bool, [String]) {
        guard let decision else { return (true, ["no decision input: promoted unconditionally"]) }
        let files = Set(decision.files.map(\.path))
        if files.contains("decision.json") {
            let verdict = try JSONValue.parse(decision.read("decision.json"))
            guard let promote = verdict["promote"]?.boolValue else { throw StageError("decision.json: \"promote\" must be true or false") }
            return (promote, verdict["reasons"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        }
        guard files.contains("gates.json") else {
            throw StageError("the decision input has neither decision.json nor gates.json (give evaluate's or monitor's metrics with targets)")
        }
        let gates = try JSONValue.parse(decision.read("gates.json"))
        guard let targets = gates["targets"]?.arrayValue else { throw StageError("gates.json: \"targets\" must be a list") }
        let sentences = targets.map { target -> String in
            let metric = target["metric"]?.stringValue ?? "?", value = target["value"]?.doubleValue
            let bound = [target["min"]?.doubleValue.map { "min \($0)" }, target["max"]?.doubleValue.map { "max \($0)" }].compactMap { $0 }
            return "\(metric) = \(value.map { String(format: "%.6g", $0) } ?? "not measured") (\(bound.joined(separator: ", "))): "
                + (target["met"]?.boolValue == true ? "met" : "unmet")
        }
        return (targets.allSatisfy { $0["met"]?.boolValue == true }, sentences)
    }

    /// The model and tokenizer files into `folder` (`model/`, `tokenizer/`), written beside it
    /// and renamed into place, so a reader never sees half of them; kept if already there.
    static func copy(model: any ArtifactReading, tokenizer: any ArtifactReading, into folder: URL) throws {
        let files = FileManager.default
        guard !files.fileExists(atPath: folder.path) else { return }
        let staging = folder.deletingLastPathComponent().appendingPathComponent(".staging-\(UUID().uuidString)")
        try files.createDirectory(at: staging, withIntermediateDirectories: true)
        do {
            _ = try model.materialize(into: staging.appendingPathComponent("model"))
            _ = try tokenizer.materialize(into: staging.appendingPathComponent("tokenizer"))
            try files.moveItem(at: staging, to: folder)
        } catch {
            do {
                try files.removeItem(at: staging)
            } catch let cleanup {
                throw StageError("\(error); the staging folder \(staging.path) could not be removed either: \(cleanup)")
            }
            throw error
        }
    }
}
