import Foundation
import PipeKit
import Yams

/// Reads YAML files into `YAMLNode` trees with bounded cost.
///
/// Rejects, with a located message: files that are too large, bytes that are not UTF-8,
/// duplicate keys, non-string keys, nesting that is too deep and alias expansion that grows
/// too large (an alias bomb).
public enum YAMLLoader {
    /// Bounds that keep hostile input cheap.
    public struct Limits: Sendable {
        public var maxBytes = 4 << 20
        public var maxNodes = 200_000
        public var maxDepth = 64
        public init() {}
    }

    /// Parses the file at `url`; `displayPath` is how messages name it.
    public static func load(file url: URL, displayPath: String, limits: Limits = Limits()) throws -> YAMLNode {
        let size = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
        guard let size else {
            throw ManifestError([Diagnostic(nil, "cannot read \(displayPath): no such file")])
        }
        if size > limits.maxBytes {
            throw ManifestError([Diagnostic(SourceLocation(file: displayPath, line: 1, column: 1),
                "file is \(size) bytes; YAML files over \(limits.maxBytes) bytes are refused")])
        }
        let data = try Data(contentsOf: url)
        return try parse(data, displayPath: displayPath, limits: limits)
    }

    /// Parses YAML bytes.
    public static func parse(_ data: Data, displayPath: String, limits: Limits = Limits()) throws -> YAMLNode {
        if data.count > limits.maxBytes {
            throw ManifestError([Diagnostic(SourceLocation(file: displayPath, line: 1, column: 1),
                "input is \(data.count) bytes; YAML over \(limits.maxBytes) bytes is refused")])
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw ManifestError([Diagnostic(invalidUTF8Location(data, displayPath), "file is not valid UTF-8")])
        }
        let root: Node?
        do {
            root = try Parser(yaml: text, resolver: .basic, constructor: .default, encoding: .utf8).singleRoot()
        } catch let error as YamlError {
            throw ManifestError([describe(error, displayPath, text: text)])
        }
        guard let root else {
            return YAMLNode(value: .map([]), location: SourceLocation(file: displayPath, line: 1, column: 1))
        }
        var converter = Converter(file: displayPath, limits: limits)
        let node = converter.convert(root, depth: 0)
        try converter.sink.throwIfAny()
        return node
    }

    private static func invalidUTF8Location(_ data: Data, _ file: String) -> SourceLocation {
        var line = 1, column = 1, index = data.startIndex
        while index < data.endIndex {
            let end = min(index + 4, data.endIndex)
            var valid = false
            for length in 1...max(1, end - index) {
                if String(validating: data[index..<(index + length)], as: UTF8.self) != nil {
                    if data[index] == 0x0A { line += 1; column = 0 }
                    index += length
                    column += 1
                    valid = true
                    break
                }
            }
            if !valid { break }
        }
        return SourceLocation(file: file, line: line, column: column)
    }

    private static func describe(_ error: YamlError, _ file: String, text: String) -> Diagnostic {
        func at(_ mark: Mark) -> SourceLocation { SourceLocation(file: file, line: mark.line, column: mark.column) }
        switch error {
        case .duplicatedKeysInMapping(let keys, let context):
            let key = keys.first ?? ""
            let first = context.mark
            let second = secondOccurrence(of: key, after: first, in: text) ?? (first.line, first.column)
            return Diagnostic(SourceLocation(file: file, line: second.line, column: second.column), "duplicate key '\(key)' (first defined at \(first.line):\(first.column))")
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let prefix = context.map { "\($0.text): " } ?? ""
            return Diagnostic(at(mark), "invalid YAML: \(prefix)\(problem)")
        case .reader(let problem, _, _, _):
            return Diagnostic(SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(problem)")
        default:
            return Diagnostic(SourceLocation(file: file, line: 1, column: 1), "invalid YAML: \(error)")
        }
    }

    /// Where `key:` appears again at the same column below its first occurrence.
    private static func secondOccurrence(of key: String, after first: Mark, in text: String) -> (line: Int, column: Int)? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard first.line <= lines.count else { return nil }
        for n in first.line..<lines.count {
            let line = lines[n]
            let indent = line.prefix { $0 == " " }.count
            if indent == first.column - 1, line.dropFirst(indent).hasPrefix(key + ":") {
                return (n + 1, first.column)
            }
        }
        return nil
    }

    /// Walks a Yams tree once, typing scalars and counting nodes.
    private struct Converter {
        let file: String
        let limits: Limits
        var sink = DiagnosticSink()
        var nodes = 0
        var overflowReported = false

        init(file: String, limits: Limits) {
            self.file = file
            self.limits = limits
        }

        func location(_ mark: Mark?) -> SourceLocation {
            SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
        }

        mutating func convert(_ node: Node, depth: Int) -> YAMLNode {
            nodes += 1
            let here = location(node.mark)
            if nodes > limits.maxNodes || depth > limits.maxDepth {
                if !overflowReported {
                    overflowReported = true
                    let why = depth > limits.maxDepth
                        ? "nesting deeper than \(limits.maxDepth) levels"
                        : "more than \(limits.maxNodes) nodes after expanding aliases (an alias bomb?)"
                    sink.error(here, "document refused: \(why)")
                }
                return YAMLNode(value: .scalar(.null), location: here)
            }
            switch node {
            case .scalar(let scalar):
                return YAMLNode(value: .scalar(typed(scalar, here)), location: here)
            case .sequence(let sequence):
                var items: [YAMLNode] = []
                for child in sequence {
                    items.append(convert(child, depth: depth + 1))
                    if overflowReported { break }
                }
                return YAMLNode(value: .list(items), location: here)
            case .mapping(let mapping):
                var entries: [YAMLNode.Entry] = []
                var seen: [String: SourceLocation] = [:]
                for (keyNode, valueNode) in mapping {
                    let keyLocation = location(keyNode.mark)
                    guard case .scalar(let keyScalar) = keyNode else {
                        sink.error(keyLocation, "mapping keys must be plain strings")
                        continue
                    }
                    let key = keyScalar.string
                    if key == "<<" {
                        sink.error(keyLocation, "merge keys (<<) are not supported; write the fields out")
                        continue
                    }
                    if let first = seen[key] {
                        sink.error(keyLocation, "duplicate key '\(key)' (first defined at \(first.line):\(first.column))")
                        continue
                    }
                    seen[key] = keyLocation
                    let value = convert(valueNode, depth: depth + 1)
                    entries.append(YAMLNode.Entry(key: key, keyLocation: keyLocation, value: value))
                    if overflowReported { break }
                }
                return YAMLNode(value: .map(entries), location: here)
            case .alias:
                return YAMLNode(value: .scalar(.null), location: here)
            }
        }

        /// Quoted and block scalars are strings; plain scalars follow the core schema.
        func typed(_ scalar: Node.Scalar, _ here: SourceLocation) -> JSONValue {
            if scalar.style != .plain && scalar.style != .any { return .string(scalar.string) }
            return CoreSchema.resolve(scalar.string)
        }
    }
}

/// YAML 1.2 core schema resolution of plain scalars.
public enum CoreSchema {
    public static func resolve(_ text: String) -> JSONValue {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .double(.infinity)
        case "-.inf", "-.Inf", "-.INF": return .double(-.infinity)
        case ".nan", ".NaN", ".NAN": return .double(.nan)
        default: break
        }
        let bytes = Array(text.utf8)
        if isDecimalInteger(bytes), let i = Int64(text) { return .int(i) }
        if text.hasPrefix("0x"), bytes.count > 2, let i = Int64(text.dropFirst(2), radix: 16) { return .int(i) }
        if text.hasPrefix("0o"), bytes.count > 2, let i = Int64(text.dropFirst(2), radix: 8) { return .int(i) }
        if isFloat(bytes), let d = Double(text) { return .double(d) }
        return .string(text)
    }

    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private static func isDecimalInteger(_ b: [UInt8]) -> Bool {
        var i = 0
        if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
        guard i < b.count else { return false }
        return b[i...].allSatisfy(isDigit)
    }

    /// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`
    private static func isFloat(_ b: [UInt8]) -> Bool {
        var i = 0
        if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
        var mantissaDigits = 0
        while i < b.count, isDigit(b[i]) { i += 1; mantissaDigits += 1 }
        if i < b.count, b[i] == 0x2E {
            i += 1
            while i < b.count, isDigit(b[i]) { i += 1; mantissaDigits += 1 }
        }
        guard mantissaDigits > 0 else { return false }
        if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            var expDigits = 0
            while i < b.count, isDigit(b[i]) { i += 1; expDigits += 1 }
            guard expDigits > 0 else { return false }
        }
        return i == b.count
    }
}
