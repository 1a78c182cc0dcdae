import Foundation

/// The declared type of a stage parameter; the engine checks `with:` values against it.
public indirect enum ParamType: Sendable, Hashable, CustomStringConvertible {
    case string
    case int
    case float
    case bool
    /// Any YAML value, passed through unchecked.
    case any
    /// One of a fixed set of strings.
    case choice([String])
    case list(ParamType)
    /// A map from free-form string keys to values of one type.
    case map(ParamType)
    /// A map with declared fields, checked recursively.
    case object([ParamSpec])

    public var description: String {
        switch self {
        case .string: return "string"
        case .int: return "int"
        case .float: return "float"
        case .bool: return "bool"
        case .any: return "any"
        case .choice(let options): return options.joined(separator: "|")
        case .list(let t): return "list[\(t)]"
        case .map(let t): return "map[\(t)]"
        case .object: return "object"
        }
    }

    /// The declared fields of an object type, also inside a list or map (collect's `sources`).
    public var declaredFields: [ParamSpec] {
        switch self {
        case .object(let fields): return fields
        case .list(let item), .map(let item): return item.declaredFields
        default: return []
        }
    }

    /// Parses the textual form used in `stage.yaml` (`int`, `list[string]`, `a|b|c`, …).
    public init?(parsing text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        func inner(_ prefix: String) -> ParamType?? {
            guard t.hasPrefix(prefix + "["), t.hasSuffix("]") else { return nil }
            return ParamType(parsing: String(t.dropFirst(prefix.count + 1).dropLast()))
        }
        switch t {
        case "string", "str": self = .string
        case "int", "integer": self = .int
        case "float", "number": self = .float
        case "bool", "boolean": self = .bool
        case "any": self = .any
        case "list": self = .list(.any)
        case "map", "object": self = .map(.any)
        default:
            if let element = inner("list") { guard let e = element else { return nil }; self = .list(e) }
            else if let element = inner("map") { guard let e = element else { return nil }; self = .map(e) }
            else if t.contains("|") {
                let options = t.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                guard !options.contains(where: \.isEmpty) else { return nil }
                self = .choice(options)
            } else { return nil }
        }
    }
}


/// One parameter of a stage: its name, type, default, bounds and documentation.
///
/// A parameter without a default is required. Built-in stages declare theirs with `@Param` on
/// their `Params` type (`Parameters`); plugins in `stage.yaml`.
public struct ParamSpec: Sendable, Hashable {
    public var name: String
    public var type: ParamType
    public var defaultValue: JSONValue?
    /// Bounds of a number (or of each number in a list or map of them).
    public var range: ParamRange?
    public var doc: String

    public init(_ name: String, _ type: ParamType, default defaultValue: JSONValue? = nil, range: ParamRange? = nil,
                doc: String = "") {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.range = range
        self.doc = doc
    }

    /// Required parameters have no default.
    public var isRequired: Bool { defaultValue == nil }
}

/// A problem a stage found in its own parameters, located by a path such as `["model", "dim"]`.
public struct ParamProblem: Sendable, Hashable {
    public var path: [String]
    public var message: String
    public init(_ path: [String], _ message: String) {
        self.path = path
        self.message = message
    }
}
