import Foundation
import PipeKit

/// Checks YAML values against declared parameter types, filling defaults.
///
/// The result is canonical: ints given for floats become floats and every optional field is
/// present, so two spellings of the same parameters hash to the same key.
struct ParamValidator {
    var sink: DiagnosticSink
    /// Where each value came from, by parameter path, so later checks can point at it.
    var locations: [[String]: SourceLocation] = [:]

    init(sink: DiagnosticSink) { self.sink = sink }

    /// Validates a `with:`-style map against `specs`. `node` may be nil (no `with:`).
    mutating func validateFields(_ node: YAMLNode?, specs: [ParamSpec], path: [String],
                                 owner: String, fallback: SourceLocation) -> JSONValue
    {
        var result: [String: JSONValue] = [:]
        var given: [String: YAMLNode.Entry] = [:]
        if let node {
            guard let entries = node.entries else {
                sink.error(node.location, "\(label(path, owner)) must be a map, not a \(node.typeName)")
                return .object([:])
            }
            let known = Set(specs.map(\.name))
            for entry in entries {
                if known.contains(entry.key) {
                    given[entry.key] = entry
                } else {
                    sink.error(entry.keyLocation, "unknown parameter '\(dotted(path + [entry.key]))' for \(owner)"
                        + Suggestion.hint(for: entry.key, in: known))
                }
            }
        }
        for spec in specs {
            let fieldPath = path + [spec.name]
            if let entry = given[spec.name] {
                locations[fieldPath] = entry.value.location
                let value = check(entry.value, spec.type, path: fieldPath, owner: owner, nullable: spec.defaultValue == .null)
                if let range = spec.range { checkRange(range, value, entry.value, path: fieldPath) }
                result[spec.name] = value
            } else if let defaultValue = spec.defaultValue {
                result[spec.name] = fillDefaults(defaultValue, spec.type)
            } else {
                sink.error(node?.location ?? fallback,
                           "missing required parameter '\(dotted(fieldPath))' for \(owner)")
            }
        }
        return .object(result)
    }

    private mutating func check(_ node: YAMLNode, _ type: ParamType, path: [String], owner: String,
                                nullable: Bool) -> JSONValue
    {
        let name = "'\(dotted(path))'"
        if case .scalar(.null) = node.value, nullable { return .null }
        func mismatch() -> JSONValue {
            sink.error(node.location, "parameter \(name) must be \(describe(type)), not \(node.typeName)"
                + valueHint(node))
            return .null
        }
        switch type {
        case .any:
            return node.json
        case .string:
            guard case .scalar(.string(let s)) = node.value else { return mismatch() }
            return .string(s)
        case .int:
            guard case .scalar(.int(let i)) = node.value else { return mismatch() }
            return .int(i)
        case .float:
            switch node.value {
            case .scalar(.int(let i)): return .double(Double(i))
            case .scalar(.double(let d)):
                if !d.isFinite {
                    sink.error(node.location, "parameter \(name) must be a finite number")
                    return .null
                }
                return .double(d)
            default: return mismatch()
            }
        case .bool:
            guard case .scalar(.bool(let b)) = node.value else { return mismatch() }
            return .bool(b)
        case .choice(let options):
            guard case .scalar(.string(let s)) = node.value else { return mismatch() }
            guard options.contains(s) else {
                sink.error(node.location, "parameter \(name) must be one of \(options.joined(separator: ", ")), not '\(s)'"
                    + Suggestion.hint(for: s, in: options))
                return .null
            }
            return .string(s)
        case .list(let element):
            guard let items = node.items else { return mismatch() }
            return .array(items.enumerated().map { n, item in
                check(item, element, path: path + ["\(n)"], owner: owner, nullable: false)
            })
        case .map(let element):
            guard let entries = node.entries else { return mismatch() }
            var object: [String: JSONValue] = [:]
            for entry in entries {
                locations[path + [entry.key]] = entry.value.location
                object[entry.key] = check(entry.value, element, path: path + [entry.key], owner: owner, nullable: false)
            }
            return .object(object)
        case .object(let fields):
            return validateFields(node, specs: fields, path: path, owner: owner, fallback: node.location)
        }
    }

    /// Checks a number, or each number of a list or map, against the declared bounds.
    private mutating func checkRange(_ range: ParamRange, _ value: JSONValue, _ node: YAMLNode, path: [String]) {
        switch value {
        case .int, .double:
            if let number = value.doubleValue, !range.contains(number) {
                sink.error(node.location, "parameter '\(dotted(path))': \(range.requirement), not \(value.canonicalJSON)")
            }
        case .array(let values):
            for (n, (value, item)) in zip(values, node.items ?? []).enumerated() { checkRange(range, value, item, path: path + ["\(n)"]) }
        case .object(let values):
            for entry in node.entries ?? [] {
                if let value = values[entry.key] { checkRange(range, value, entry.value, path: path + [entry.key]) }
            }
        default:
            break
        }
    }

    /// Fills nested defaults of an object-typed default value.
    private func fillDefaults(_ value: JSONValue, _ type: ParamType) -> JSONValue {
        guard case .object(let fields) = type, case .object(var given) = value else {
            if case .float = type, case .int(let i) = value { return .double(Double(i)) }
            return value
        }
        for field in fields {
            if let v = given[field.name] { given[field.name] = fillDefaults(v, field.type) }
            else if let d = field.defaultValue { given[field.name] = fillDefaults(d, field.type) }
        }
        return .object(given)
    }

    private func describe(_ type: ParamType) -> String {
        switch type {
        case .string: return "a string"
        case .int: return "an int"
        case .float: return "a number"
        case .bool: return "a bool (true or false)"
        case .any: return "any value"
        case .choice(let o): return "one of \(o.joined(separator: ", "))"
        case .list(let e): return "a list of \(e)"
        case .map(let e): return "a map of \(e)"
        case .object: return "a map"
        }
    }

    private func valueHint(_ node: YAMLNode) -> String {
        guard case .scalar(let s) = node.value else { return "" }
        return " (\(s.canonicalJSON))"
    }

    private func label(_ path: [String], _ owner: String) -> String {
        path.isEmpty ? "'with' of \(owner)" : "parameter '\(dotted(path))'"
    }
}

func dotted(_ path: [String]) -> String { path.joined(separator: ".") }
