import Foundation
import PipeKit

/// A YAML node with its position, typed by the YAML 1.2 core schema.
///
/// Only `true`/`false` are booleans (so `no` stays a string), numbers have no `_`, and quoted
/// scalars are always strings.
public struct YAMLNode: Sendable {
    public enum Value: Sendable {
        case scalar(JSONValue)
        case list([YAMLNode])
        case map([Entry])
    }

    /// One key of a mapping, with where the key itself stands.
    public struct Entry: Sendable {
        public var key: String
        public var keyLocation: SourceLocation
        public var value: YAMLNode
    }

    public var value: Value
    public var location: SourceLocation

    /// The value without positions.
    public var json: JSONValue {
        switch value {
        case .scalar(let v): return v
        case .list(let items): return .array(items.map(\.json))
        case .map(let entries):
            var object: [String: JSONValue] = [:]
            for e in entries { object[e.key] = e.value.json }
            return .object(object)
        }
    }

    public var entries: [Entry]? {
        if case .map(let e) = value { return e }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .list(let i) = value { return i }
        return nil
    }

    public var scalar: JSONValue? {
        if case .scalar(let s) = value { return s }
        return nil
    }

    public var string: String? { scalar?.stringValue }

    /// The entry for `key` in a mapping.
    public subscript(key: String) -> YAMLNode? {
        entries?.first { $0.key == key }?.value
    }

    /// A short name of the node's type, for error messages.
    public var typeName: String {
        switch value {
        case .scalar(let s): return s.typeName
        case .list: return "list"
        case .map: return "map"
        }
    }
}
