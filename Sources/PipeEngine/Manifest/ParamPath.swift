import Foundation
import PipeKit

/// A dotted path into a manifest's `params:` (`lr`, `model.dim`), as `--set` and a sweep's
/// search space name them.
enum ParamPath {
    /// The value at `path`, or nil when the path names no parameter.
    static func value(at path: String, in params: [String: JSONValue]) -> JSONValue? {
        var parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var current: JSONValue? = .object(params)
        while !parts.isEmpty { current = current?[parts.removeFirst()] }
        return current
    }

    /// Replaces the value at an existing `path`; false when the path names no parameter.
    static func set(_ value: JSONValue, at path: String, in params: inout [String: JSONValue]) -> Bool {
        guard ParamPath.value(at: path, in: params) != nil else { return false }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        func replaced(_ object: [String: JSONValue], _ rest: ArraySlice<String>) -> [String: JSONValue] {
            var object = object
            let key = rest.first!
            object[key] = rest.count == 1 ? value : .object(replaced(object[key]?.objectValue ?? [:], rest.dropFirst()))
            return object
        }
        params = replaced(params, parts[...])
        return true
    }

    /// Every parameter's path, nested ones included (for suggestions).
    static func all(in params: [String: JSONValue], prefix: String = "") -> [String] {
        params.keys.sorted().flatMap { key -> [String] in
            let path = prefix + key
            if let inner = params[key]?.objectValue { return [path] + all(in: inner, prefix: path + ".") }
            return [path]
        }
    }
}
