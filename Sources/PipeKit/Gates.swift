import Foundation

/// A target on one metric: at least `min`, at most `max`, or both. The objective's `targets`
/// and the monitor's `gates` are maps from metric names to these.
public struct MetricBound: Parameters, Equatable {
    @Param("at least") public var min: Double? = nil
    @Param("at most") public var max: Double? = nil
    public init() {}

    public init(min: Double? = nil, max: Double? = nil) {
        self.min = min
        self.max = max
    }

    /// What is wrong with a map of targets, each problem under `key` (`targets`, `gates`): names
    /// outside `MetricName`'s contract, missing or crossed bounds, bounds no value can meet.
    public static func problems(_ targets: [String: MetricBound], under key: String) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        for (metric, bound) in targets.sorted(by: { $0.key < $1.key }) {
            if let why = MetricName.problem(with: metric) {
                problems.append(ParamProblem([key, metric], why))
                continue
            }
            let range = MetricName.range(of: metric)
            switch (bound.min, bound.max) {
            case (nil, nil):
                problems.append(ParamProblem([key, metric], "give min, max or both"))
            case (let lo?, let hi?) where lo > hi:
                problems.append(ParamProblem([key, metric], "min \(lo) is above max \(hi): no value can meet it"))
            default:
                if let hi = bound.max, hi < range.lowerBound {
                    problems.append(ParamProblem([key, metric, "max"], "\(metric) is never below \(range.lowerBound), so max \(hi) cannot be met"))
                }
                if let lo = bound.min, lo > range.upperBound {
                    problems.append(ParamProblem([key, metric, "min"], "\(metric) is never above \(range.upperBound), so min \(lo) cannot be met"))
                }
            }
        }
        return problems
    }
}

/// What an unmet target does: `fail` fails the stage (what `needs:` it is skipped), `warn`
/// reports it and the run goes on.
public enum GateMode: String, ParamChoice { case fail, warn }

/// Targets checked against measured metrics, written as `gates.json`, and enforced.
public struct Gates {
    /// `targets.json` as the objective writes it.
    public struct File: Decodable {
        /// One target's bounds.
        public struct Bound: Decodable { public var min: Double?; public var max: Double? }
        public var gate: String
        public var targets: [String: Bound]
    }

    /// One target and how it fared.
    public struct Result {
        public var metric: String
        public var min: Double?
        public var max: Double?
        public var value: Double?
        public var met: Bool { value.map { v in (min.map { v >= $0 } ?? true) && (max.map { v <= $0 } ?? true) } ?? false }

        public var sentence: String {
            let bound = [min.map { "min \($0)" }, max.map { "max \($0)" }].compactMap { $0 }.joined(separator: ", ")
            guard let value else { return "\(metric): not measured (target \(bound))" }
            return "\(metric) = \(String(format: "%.6g", value)), target \(bound)"
        }

        public var json: JSONValue {
            .object(["metric": .string(metric), "min": min.map(JSONValue.double) ?? .null, "max": max.map(JSONValue.double) ?? .null,
                     "value": value.map(JSONValue.double) ?? .null, "met": .bool(met)])
        }
    }

    public let file: File

    public init(file: File) { self.file = file }

    /// Gates from a stage's own parameters (the monitor's `gates` and `gate`).
    public init(_ targets: [String: MetricBound], mode: GateMode) {
        file = File(gate: mode.rawValue, targets: targets.mapValues { File.Bound(min: $0.min, max: $0.max) })
    }

    public func check(_ metrics: [String: Double]) -> [Result] {
        file.targets.keys.sorted().map { name in
            let bound = file.targets[name]!
            return Result(metric: name, min: bound.min, max: bound.max, value: metrics[name])
        }
    }

    /// Checks every target, writes `gates.json` into `folder` and logs each result; with
    /// `gate: fail` an unmet target throws, with `warn` it is reported and the run goes on.
    /// `preface` starts the message (why metrics are missing, for instance).
    public func enforce(_ metrics: [String: Double], context: StageContext, into folder: URL, preface: String? = nil) throws {
        let results = check(metrics)
        try JSONValue.object(["gate": .string(file.gate), "targets": .array(results.map(\.json))])
            .write(to: folder.appendingPathComponent("gates.json"))
        for r in results { context.log("\(r.met ? "met" : "unmet"): \(r.sentence)") }
        let unmet = results.filter { !$0.met }
        guard !unmet.isEmpty else { return }
        let message = (preface.map { $0 + "; " } ?? "") + "\(unmet.count) of \(results.count) targets unmet: "
            + unmet.map(\.sentence).joined(separator: "; ")
        if file.gate == GateMode.fail.rawValue { throw StageError(message) }
        context.warn(message + " (gate: warn)")
    }
}
