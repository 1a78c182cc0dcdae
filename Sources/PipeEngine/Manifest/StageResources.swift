import Foundation
import PipeKit

/// A stage's `resources:`: what an executor asks the cluster for. The local executor reads only
/// `tasks` (MPI ranks, launched with `mpirun`); Slurm passes each field to `sbatch`.
public struct StageResources: Sendable, Equatable {
    public var cpus: Int?
    public var mem: String?
    public var time: String?
    public var partition: String?
    public var nodes: Int?
    public var tasks: Int?
    public var gpus: Int?
    /// At most this many Slurm array tasks for a shardable stage (unset: one job).
    public var array: Int?

    public init() {}

    /// MPI ranks the stage runs as (1 unless `tasks` says more).
    public var ranks: Int { tasks ?? 1 }

    static let specs: [ParamSpec] = [
        ParamSpec("cpus", .int, default: .null, doc: "CPU cores (threads) per task"),
        ParamSpec("mem", .string, default: .null, doc: "memory per node, e.g. 8G or 512M"),
        ParamSpec("time", .string, default: .null, doc: "wall time limit: minutes, MM:SS, HH:MM:SS or D-HH[:MM[:SS]]"),
        ParamSpec("partition", .string, default: .null, doc: "Slurm partition"),
        ParamSpec("nodes", .int, default: .null, doc: "nodes"),
        ParamSpec("tasks", .int, default: .null, doc: "tasks (MPI ranks)"),
        ParamSpec("gpus", .int, default: .null, doc: "GPUs"),
        ParamSpec("array", .int, default: .null, doc: "shardable stages: at most this many Slurm array tasks"),
    ]

    /// Reads validated `resources:` fields and checks their values, pointing at each bad one.
    static func parse(_ value: JSONValue, locations: [[String]: SourceLocation], fallback: SourceLocation,
                      sink: inout DiagnosticSink) -> StageResources
    {
        var r = StageResources()
        func int(_ name: String) -> Int? {
            guard case .int(let v)? = value[name] else { return nil }
            if v < 1 { sink.error(locations[[name]] ?? fallback, "resources: '\(name)' must be at least 1, not \(v)") }
            return Int(v)
        }
        func string(_ name: String, valid: (String) -> Bool, expected: String) -> String? {
            guard case .string(let s)? = value[name] else { return nil }
            if !valid(s) { sink.error(locations[[name]] ?? fallback, "resources: '\(name)' must be \(expected), not '\(s)'") }
            return s
        }
        r.cpus = int("cpus")
        r.nodes = int("nodes")
        r.tasks = int("tasks")
        r.gpus = int("gpus")
        r.array = int("array")
        r.mem = string("mem", valid: isMemory, expected: "a size such as 512M, 8G or 1T")
        r.time = string("time", valid: isTimeLimit, expected: "a Slurm time such as 30, 45:00, 02:00:00 or 1-12:00:00")
        r.partition = string("partition", valid: { !$0.isEmpty && !$0.contains(where: \.isWhitespace) },
                             expected: "a partition name without spaces")
        if let nodes = r.nodes, let tasks = r.tasks, tasks < nodes {
            sink.error(locations[["tasks"]] ?? fallback, "resources: 'tasks' (\(tasks)) must be at least 'nodes' (\(nodes))")
        }
        return r
    }

    /// `512M`, `8G`, `1T`, or a plain number of megabytes.
    static func isMemory(_ s: String) -> Bool {
        var digits = Substring(s)
        if let last = s.last, "KMGT".contains(last) { digits = s.dropLast() }
        return !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) && Int(digits)! > 0
    }

    /// Slurm's `--time` forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S`.
    static func isTimeLimit(_ s: String) -> Bool {
        func numbers(_ part: Substring, _ counts: ClosedRange<Int>) -> Bool {
            let fields = part.split(separator: ":", omittingEmptySubsequences: false)
            return counts.contains(fields.count) && fields.allSatisfy { !$0.isEmpty && $0.allSatisfy { $0.isASCII && $0.isNumber } }
        }
        let dash = s.split(separator: "-", omittingEmptySubsequences: false)
        switch dash.count {
        case 1: return numbers(dash[0], 1...3)
        case 2: return numbers(dash[0], 1...1) && numbers(dash[1], 1...3)
        default: return false
        }
    }
}
