import Foundation
import PipeKit

/// Everything a stage's output depends on. Its canonical JSON hashes to the stage key.
public struct KeyParts: Sendable, Codable, Equatable {
    /// Bumped when the engine changes how outputs are derived from the same parts.
    public static let engineFormat = 1

    public var format: Int
    /// The stage kind (`uses` name).
    public var kind: String
    /// The code's identity: `builtin@<version>` or `plugin:<folder hash>`.
    public var code: String
    /// Parameters with defaults filled in.
    public var params: JSONValue
    /// Input port -> artifact id.
    public var inputs: [String: String]
    /// External input (described) -> content digest.
    public var external: [String: String]
    /// Environment probe (command line) -> digest of its output.
    public var environment: [String: String]

    public init(kind: String, code: String, params: JSONValue, inputs: [String: String],
                external: [String: String], environment: [String: String])
    {
        format = Self.engineFormat
        self.kind = kind
        self.code = code
        self.params = params
        self.inputs = inputs
        self.external = external
        self.environment = environment
    }

    var json: JSONValue {
        .object([
            "format": .int(Int64(format)),
            "kind": .string(kind),
            "code": .string(code),
            "params": params,
            "inputs": .object(inputs.mapValues(JSONValue.string)),
            "external": .object(external.mapValues(JSONValue.string)),
            "environment": .object(environment.mapValues(JSONValue.string)),
        ])
    }

    /// The stage key: XXH3-128 of the canonical JSON of the parts.
    public var key: String { Hasher128.hash(json.canonicalJSON).hex }
}

/// Why a stage must run, in words a user understands.
public enum StaleReason: Sendable, Equatable, CustomStringConvertible {
    case neverRun
    case forced
    case outputsMissing
    case codeChanged(old: String, new: String)
    case paramChanged(path: String, old: String, new: String)
    case inputChanged(port: String)
    case externalChanged(String)
    case environmentChanged(String)
    case upstreamWillRun(String)
    /// The key's run record cannot be read (the stage runs again and replaces it).
    case recordUnreadable(String)
    /// The key cannot be computed now (an external file unreadable, parameters that do not decode).
    case unknowable(String)

    public var description: String {
        switch self {
        case .neverRun: return "never run"
        case .forced: return "forced"
        case .outputsMissing: return "outputs missing from the cache"
        case .codeChanged(let old, let new): return "stage code changed (\(old) -> \(new))"
        case .paramChanged(let path, let old, let new): return "parameter \(path) changed \(old) -> \(new)"
        case .inputChanged(let port): return "input \(port) changed"
        case .externalChanged(let what): return "external input \(what) changed"
        case .environmentChanged(let probe): return "environment changed (\(probe))"
        case .upstreamWillRun(let stage): return "upstream \(stage) will run"
        case .unknowable(let why): return "key unknown: \(why)"
        case .recordUnreadable(let why): return "\(why)"
        }
    }

    /// The differences between the parts of the last run and the current ones.
    static func differences(from old: KeyParts, to new: KeyParts) -> [StaleReason] {
        var reasons: [StaleReason] = []
        if old.code != new.code || old.kind != new.kind || old.format != new.format {
            reasons.append(.codeChanged(old: "\(old.kind) \(old.code)", new: "\(new.kind) \(new.code)"))
        }
        diff(old.params, new.params, path: [], into: &reasons)
        for port in Set(old.inputs.keys).union(new.inputs.keys).sorted() where old.inputs[port] != new.inputs[port] {
            reasons.append(.inputChanged(port: port))
        }
        for what in Set(old.external.keys).union(new.external.keys).sorted() where old.external[what] != new.external[what] {
            reasons.append(.externalChanged(what))
        }
        for probe in Set(old.environment.keys).union(new.environment.keys).sorted()
            where old.environment[probe] != new.environment[probe]
        {
            reasons.append(.environmentChanged(probe))
        }
        return reasons
    }

    private static func diff(_ old: JSONValue?, _ new: JSONValue?, path: [String], into reasons: inout [StaleReason]) {
        if sameValue(old, new) { return }
        if case .object(let a)? = old, case .object(let b)? = new {
            for key in Set(a.keys).union(b.keys).sorted() {
                diff(a[key], b[key], path: path + [key], into: &reasons)
            }
            return
        }
        reasons.append(.paramChanged(path: path.isEmpty ? "(all)" : dotted(path),
                                     old: old?.displayString ?? "(unset)", new: new?.displayString ?? "(unset)"))
    }

    /// Whether two values are equal with numbers compared by value (`10` and `10.0`: a lock file
    /// written by JSONEncoder reads `10.0` back as an integer).
    static func sameValue(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
        switch (a, b) {
        case (.int(let x)?, .double(let y)?), (.double(let y)?, .int(let x)?):
            return Double(x) == y
        case (.array(let x)?, .array(let y)?):
            return x.count == y.count && zip(x, y).allSatisfy { sameValue($0, $1) }
        case (.object(let x)?, .object(let y)?):
            return Set(x.keys) == Set(y.keys) && x.allSatisfy { sameValue($0.value, y[$0.key]) }
        default:
            return a == b
        }
    }
}
