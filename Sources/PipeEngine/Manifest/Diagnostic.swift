import Foundation

/// A position in a source file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }
    public var description: String { "\(file):\(line):\(column)" }
}

/// One problem found in a manifest or plugin definition, with where it is.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation?
    public var message: String
    public init(_ location: SourceLocation?, _ message: String) {
        self.location = location
        self.message = message
    }
    public var description: String {
        if let location { return "\(location): error: \(message)" }
        return "error: \(message)"
    }
}

/// Every problem found while loading a manifest, reported together. Exit code 2.
public struct ManifestError: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]
    public init(_ diagnostics: [Diagnostic]) { self.diagnostics = diagnostics }
    public var description: String {
        let sorted = diagnostics.sorted { a, b in
            let la = a.location, lb = b.location
            if la?.file != lb?.file { return (la?.file ?? "") < (lb?.file ?? "") }
            if la?.line != lb?.line { return (la?.line ?? 0) < (lb?.line ?? 0) }
            return (la?.column ?? 0) < (lb?.column ?? 0)
        }
        let count = sorted.count
        let header = count == 1 ? "" : "\(count) problems:\n"
        return header + sorted.map(\.description).joined(separator: "\n")
    }
}

/// Collects diagnostics while a check runs.
struct DiagnosticSink {
    private(set) var items: [Diagnostic] = []
    mutating func error(_ location: SourceLocation?, _ message: String) {
        items.append(Diagnostic(location, message))
    }
    var isEmpty: Bool { items.isEmpty }
    func throwIfAny() throws {
        if !items.isEmpty { throw ManifestError(items) }
    }
}

/// Suggests the closest known name to a mistyped one ("did you mean 'lr'?").
public enum Suggestion {
    public static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        var best: (String, Int)?
        let candidates = Array(candidates)
        for candidate in candidates {
            let d = distance(word.lowercased(), candidate.lowercased())
            let limit = max(2, candidate.count / 3)
            if d <= limit, best == nil || d < best!.1 { best = (candidate, d) }
        }
        if let best { return best.0 }
        // Abbreviations: `docs` for `documents`.
        let abbreviated = candidates.filter { isAbbreviation(word.lowercased(), of: $0.lowercased()) }
        return abbreviated.count == 1 ? abbreviated[0] : nil
    }

    /// Whether `word` keeps the first letter of `candidate` and the rest of its letters in order.
    static func isAbbreviation(_ word: String, of candidate: String) -> Bool {
        guard word.count >= 3, word.first == candidate.first else { return false }
        var rest = candidate[...]
        for ch in word {
            guard let i = rest.firstIndex(of: ch) else { return false }
            rest = rest[rest.index(after: i)...]
        }
        return true
    }

    /// `; did you mean 'x'?` or an empty string.
    public static func hint(for word: String, in candidates: some Sequence<String>) -> String {
        closest(to: word, in: candidates).map { "; did you mean '\($0)'?" } ?? ""
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
