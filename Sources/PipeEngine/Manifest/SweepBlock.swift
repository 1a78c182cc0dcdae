import Foundation
import PipeKit

/// A metric of one stage, written `stage.metric` (`evaluate.val.loss`): the stage's name (which
/// has no dots) up to the first dot, then the name the stage records it under in its run
/// record's metrics, or reports it under while it runs.
public struct StageMetric: Sendable, Hashable, CustomStringConvertible {
    public var stage: String
    public var name: String
    public var description: String { "\(stage).\(name)" }

    public init?(_ text: String) {
        guard let dot = text.firstIndex(of: "."), dot != text.startIndex, text.index(after: dot) != text.endIndex else { return nil }
        stage = String(text[..<dot])
        name = String(text[text.index(after: dot)...])
    }
}

/// A manifest's `sweep:` block, checked: what `pipe sweep` optimises and how.
public struct SweepBlock: Sendable {
    public enum Direction: String, Sendable, CaseIterable {
        case minimize, maximize
    }

    /// The objective: a stage's final metric.
    public var metric: StageMetric
    public var direction: Direction
    /// `space:` as written: params paths to their distributions.
    public var space: JSONValue
    /// `sampler:` as written (nil: the default sampler).
    public var sampler: JSONValue?
    /// How many trials to run; nil for a grid, which runs until exhausted.
    public var trials: Int?
    /// Trials running at once (and the parallel reproducibility rule's k).
    public var parallel: Int
    /// `prune:` as written, without `metric`; nil when trials are never pruned.
    public var prune: JSONValue?
    /// The intermediate metric the pruner watches: `prune.metric`, else `metric`.
    public var pruneMetric: StageMetric
    /// The study's name: its journal's folder (default: the manifest's name).
    public var study: String

    static let fields: Set<String> = ["metric", "direction", "space", "sampler", "trials", "parallel", "prune", "study"]

    /// Checks the block against the manifest's params and stages; every problem goes to `sink`.
    static func parse(_ node: YAMLNode, params: [String: JSONValue], stages: Set<String>, manifestName: String,
                      sink: inout DiagnosticSink) -> SweepBlock? {
        guard let entries = node.entries else {
            sink.error(node.location, "'sweep' must be a map with metric, space and trials")
            return nil
        }
        let before = sink.items.count
        for e in entries where !fields.contains(e.key) {
            sink.error(e.keyLocation, "unknown field '\(e.key)' in sweep" + Suggestion.hint(for: e.key, in: fields))
        }
        func stageMetric(_ node: YAMLNode, field: String) -> StageMetric? {
            guard let text = node.string, let metric = StageMetric(text) else {
                sink.error(node.location, "'\(field)' must name a stage's metric as stage.metric, e.g. evaluate.val.loss")
                return nil
            }
            guard stages.contains(metric.stage) else {
                sink.error(node.location, "'\(field)' names stage '\(metric.stage)', which the manifest does not have"
                    + Suggestion.hint(for: metric.stage, in: stages))
                return nil
            }
            return metric
        }
        func count(_ field: String, default value: Int?) -> Int? {
            guard let node = node[field] else { return value }
            guard let n = node.scalar?.intValue, n >= 1, n <= 1_000_000 else {
                sink.error(node.location, "'\(field)' must be a whole number from 1 to 1000000")
                return value
            }
            return Int(n)
        }

        var metric: StageMetric?
        if let m = node["metric"] { metric = stageMetric(m, field: "metric") }
        else { sink.error(node.location, "sweep needs 'metric' (a stage's metric, e.g. evaluate.val.loss)") }

        var direction = Direction.minimize
        if let d = node["direction"] {
            if let parsed = d.string.flatMap(Direction.init(rawValue:)) { direction = parsed }
            else { sink.error(d.location, "'direction' must be minimize or maximize") }
        }

        var space = JSONValue.object([:])
        if let s = node["space"] {
            if let entries = s.entries, !entries.isEmpty {
                space = s.json
                let known = ParamPath.all(in: params)
                for e in entries where ParamPath.value(at: e.key, in: params) == nil {
                    sink.error(e.keyLocation, "sweep.space names parameter '\(e.key)', which is not in params"
                        + (known.isEmpty ? " (the manifest has none)" : " (\(known.joined(separator: ", ")))")
                        + Suggestion.hint(for: e.key, in: known))
                }
            } else {
                sink.error(s.location, "'space' must map params to their ranges, e.g. lr: {log_uniform: [1.0e-4, 1.0e-2]}")
            }
        } else {
            sink.error(node.location, "sweep needs 'space' (the params to vary and their ranges)")
        }

        var prune: JSONValue?
        var pruneMetric: StageMetric?
        if let p = node["prune"] {
            if var fields = p.json.objectValue {
                if let m = p["metric"] { pruneMetric = stageMetric(m, field: "prune.metric") }
                fields["metric"] = nil
                prune = .object(fields)
            } else {
                sink.error(p.location, "'prune' must be a map such as {kind: median}")
            }
        }

        var study = manifestName
        if let s = node["study"] {
            if let name = s.string, StudyJournal.isValidName(name) { study = name }
            else { sink.error(s.location, "'study' must be a name of letters, digits, '-' and '_'") }
        } else if !StudyJournal.isValidName(manifestName) {
            sink.error(node.location, "the manifest's name '\(manifestName)' cannot name a study folder: give the sweep a 'study' name")
        }

        let trials = count("trials", default: nil)
        let parallel = count("parallel", default: 1) ?? 1
        guard sink.items.count == before, let metric else { return nil }
        return SweepBlock(metric: metric, direction: direction, space: space, sampler: node["sampler"]?.json, trials: trials,
                          parallel: parallel, prune: prune, pruneMetric: pruneMetric ?? metric, study: study)
    }
}
