import Foundation
import PipeKit
import Sweep

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
    /// The objective: a stage's final metric.
    public var metric: StageMetric
    public var direction: Direction
    public var space: SearchSpace
    public var sampler: any Sampler
    /// How many trials to run (for a grid, at most its number of combinations).
    public var trials: Int
    /// Trials running at once (and the parallel reproducibility rule's k).
    public var parallel: Int
    /// Nil when trials are never pruned.
    public var pruner: (any Pruner)?
    /// The intermediate metric the pruner watches: `prune.metric`, else `metric`.
    public var pruneMetric: StageMetric
    /// The study's name: its journal's folder (default: the manifest's name).
    public var study: String
    /// What fixes the sequence of trials (metric, direction, space, sampler, parallel) as
    /// written: a study is not resumed under other settings.
    public var settings: JSONValue

    /// The sampler when the block names none: TPE with seed 0, as Optuna's default.
    static let defaultSampler: JSONValue = .object(["kind": .string("tpe")])

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
        func count(_ field: String, default value: Int?, most: Int64) -> Int? {
            guard let node = node[field] else { return value }
            guard let n = node.scalar?.intValue, n >= 1, n <= most else {
                sink.error(node.location, "'\(field)' must be a whole number from 1 to \(most)")
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

        var space: SearchSpace?
        if let s = node["space"] {
            if let entries = s.entries, !entries.isEmpty {
                space = located(in: node, sink: &sink) { try SearchSpace(parsing: s.json, path: "sweep.space") }
                let known = ParamPath.all(in: params)
                for e in entries where ParamPath.value(at: e.key, in: params) == nil {
                    sink.error(e.keyLocation, "sweep.space names parameter '\(e.key)', which is not in params"
                        + (known.isEmpty ? " (the manifest has none)" : " (\(known.joined(separator: ", ")))")
                        + Suggestion.hint(for: e.key, in: known))
                }
            } else {
                sink.error(s.location, "'space' must map params to their ranges, e.g. lr: {kind: log_uniform, low: 1.0e-4, high: 1.0e-2}")
            }
        } else {
            sink.error(node.location, "sweep needs 'space' (the params to vary and their ranges)")
        }

        let samplerJSON = node["sampler"]?.json ?? defaultSampler
        let sampler = space.flatMap { space in
            located(in: node, sink: &sink) { try SweepFactory.sampler(parsing: samplerJSON, path: "sweep.sampler", space: space, direction: direction) }
        }

        var pruner: (any Pruner)?
        var pruneMetric: StageMetric?
        if let p = node["prune"] {
            if var fields = p.json.objectValue {
                if let m = p["metric"] { pruneMetric = stageMetric(m, field: "prune.metric") }
                fields["metric"] = nil
                pruner = located(in: node, sink: &sink) { try SweepFactory.pruner(parsing: .object(fields), path: "sweep.prune") }
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

        var trials = count("trials", default: nil, most: 1_000_000)
        if let grid = sampler as? GridSampler {
            trials = min(trials ?? grid.plannedCount, grid.plannedCount)
        } else if node["trials"] == nil {
            sink.error(node.location, "sweep needs 'trials' (how many to run; only a grid knows its own number)")
        }
        let parallel = count("parallel", default: 1, most: 1_000) ?? 1
        guard sink.items.count == before, let metric, let space, let sampler, let trials else { return nil }
        let settings: JSONValue = .object(["metric": .string(metric.description), "direction": .string(direction.rawValue),
                                           "space": node["space"]!.json, "sampler": samplerJSON, "parallel": .int(Int64(parallel))])
        return SweepBlock(metric: metric, direction: direction, space: space, sampler: sampler, trials: trials, parallel: parallel,
                          pruner: pruner, pruneMetric: pruneMetric ?? metric, study: study, settings: settings)
    }

    /// Runs a parser of the Sweep library; each problem it reports (`sweep.space.lr.low: ...`)
    /// goes to `sink` at the line and column of the field it names.
    private static func located<T>(in sweep: YAMLNode, sink: inout DiagnosticSink, _ parse: () throws -> T) -> T? {
        do {
            return try parse()
        } catch let error as SweepConfigError {
            for problem in error.problems {
                let field = problem.prefix { $0 != ":" }
                sink.error(locate(field.split(separator: ".").dropFirst().map(String.init), in: sweep), problem)
            }
        } catch {
            sink.error(sweep.location, "\(error)")
        }
        return nil
    }

    /// The node a field path names (`space`, `model`, `width`, `low`), as deep as it exists; a
    /// params path's dots may be inside one key (`model.width`).
    static func locate(_ parts: [String], in node: YAMLNode) -> SourceLocation {
        guard !parts.isEmpty, let entries = node.entries else { return node.location }
        for count in stride(from: parts.count, through: 1, by: -1) {
            let key = parts.prefix(count).joined(separator: ".")
            if let entry = entries.first(where: { $0.key == key }) {
                return count == parts.count ? entry.value.location : locate(Array(parts.dropFirst(count)), in: entry.value)
            }
        }
        return node.location
    }
}
