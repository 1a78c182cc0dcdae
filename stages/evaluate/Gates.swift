import Foundation
import PipeKit

/// The objective's targets checked against measured metrics.
struct Gates {
    /// `targets.json` as the objective writes it.
    struct File: Decodable {
        struct Bound: Decodable { var min: Double?; var max: Double? }
        var gate: String
        var targets: [String: Bound]
    }

    /// One target and how it fared.
    struct Result {
        var metric: String
        var min: Double?
        var max: Double?
        var value: Double?
        var met: Bool { value.map { v in (min.map { v >= $0 } ?? true) && (max.map { v <= $0 } ?? true) } ?? false }

        var sentence: String {
            let bound = [min.map { "min \($0)" }, max.map { "max \($0)" }].compactMap { $0 }.joined(separator: ", ")
            guard let value else { return "\(metric): not measured (target \(bound))" }
            return "\(metric) = \(String(format: "%.6g", value)), target \(bound)"
        }

        var json: JSONValue {
            .object(["metric": .string(metric), "min": min.map(JSONValue.double) ?? .null, "max": max.map(JSONValue.double) ?? .null,
                     "value": value.map(JSONValue.double) ?? .null, "met": .bool(met)])
        }
    }

    let file: File

    func check(_ metrics: [String: Double]) -> [Result] {
        file.targets.keys.sorted().map { name in
            let bound = file.targets[name]!
            return Result(metric: name, min: bound.min, max: bound.max, value: metrics[name])
        }
    }
}
