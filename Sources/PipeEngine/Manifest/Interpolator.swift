import Foundation
import PipeKit

/// Replaces `${params.name}` in stage definitions.
///
/// A scalar that is exactly one reference takes the parameter's value and type; a reference
/// inside a longer string is spliced in as text.
struct Interpolator {
    var params: [String: JSONValue]

    func apply(_ node: YAMLNode, sink: inout DiagnosticSink) -> YAMLNode {
        switch node.value {
        case .scalar(.string(let text)) where text.contains("${"):
            return substitute(text, at: node.location, sink: &sink)
        case .scalar:
            return node
        case .list(let items):
            return YAMLNode(value: .list(items.map { apply($0, sink: &sink) }), location: node.location)
        case .map(let entries):
            return YAMLNode(value: .map(entries.map { e in
                YAMLNode.Entry(key: e.key, keyLocation: e.keyLocation, value: apply(e.value, sink: &sink))
            }), location: node.location)
        }
    }

    private func substitute(_ text: String, at location: SourceLocation, sink: inout DiagnosticSink) -> YAMLNode {
        var pieces: [(literal: String, value: JSONValue?)] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${") {
            guard let close = rest[open.upperBound...].firstIndex(of: "}") else {
                sink.error(location, "unclosed '${' in '\(text)'")
                return YAMLNode(value: .scalar(.string(text)), location: location)
            }
            let reference = String(rest[open.upperBound..<close])
            pieces.append((String(rest[..<open.lowerBound]), nil))
            guard let value = lookup(reference) else {
                let name = reference.hasPrefix("params.") ? String(reference.dropFirst(7)) : reference
                let hint = reference.hasPrefix("params.") ? Suggestion.hint(for: name, in: params.keys)
                    : "; references look like ${params.name}"
                sink.error(location, "'${\(reference)}' names no manifest parameter" + hint)
                return YAMLNode(value: .scalar(.string(text)), location: location)
            }
            pieces.append(("", value))
            rest = rest[rest.index(after: close)...]
        }
        if !rest.isEmpty { pieces.append((String(rest), nil)) }
        let values = pieces.compactMap(\.value)
        if values.count == 1, pieces.allSatisfy({ $0.value != nil || $0.literal.isEmpty }) {
            return node(from: values[0], at: location)
        }
        let joined = pieces.map { $0.value?.displayString ?? $0.literal }.joined()
        return YAMLNode(value: .scalar(.string(joined)), location: location)
    }

    private func lookup(_ reference: String) -> JSONValue? {
        let parts = reference.split(separator: ".").map(String.init)
        guard parts.count >= 2, parts[0] == "params" else { return nil }
        var value = params[parts[1]]
        for key in parts.dropFirst(2) { value = value?[key] }
        return value
    }

    /// A parameter's value as a YAML node located at the reference.
    private func node(from value: JSONValue, at location: SourceLocation) -> YAMLNode {
        switch value {
        case .array(let items):
            return YAMLNode(value: .list(items.map { node(from: $0, at: location) }), location: location)
        case .object(let fields):
            return YAMLNode(value: .map(fields.keys.sorted().map { key in
                YAMLNode.Entry(key: key, keyLocation: location, value: node(from: fields[key]!, at: location))
            }), location: location)
        default:
            return YAMLNode(value: .scalar(value), location: location)
        }
    }
}
