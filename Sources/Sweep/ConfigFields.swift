import PipeKit

/// The fields of one mapping in a sweep block, read one by one with typed accessors whose errors
/// name the field path; `finish()` rejects the fields nobody asked for.
struct ConfigFields {
    let path: String
    private let fields: [String: JSONValue]
    private var read: Set<String> = []

    init(_ value: JSONValue, path: String) throws {
        guard let fields = value.objectValue else {
            throw SweepConfigError(field: path, "expected a mapping, found \(value.typeName)")
        }
        self.path = path
        self.fields = fields
    }

    func fieldPath(_ key: String) -> String { "\(path).\(key)" }

    /// The raw value of `key`, if present.
    mutating func value(_ key: String) -> JSONValue? {
        read.insert(key)
        return fields[key]
    }

    mutating func string(_ key: String) throws -> String? {
        guard let value = value(key) else { return nil }
        guard let string = value.stringValue else { throw mistyped(key, value, "a string") }
        return string
    }

    /// A finite number (an integer or a float).
    mutating func number(_ key: String) throws -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw mistyped(key, value, "a finite number") }
        return number
    }

    mutating func integer(_ key: String) throws -> Int64? {
        guard let value = value(key) else { return nil }
        if let integer = value.intValue { return integer }
        if let number = value.doubleValue, number == number.rounded(), abs(number) < 9.0e15 { return Int64(number) }
        throw mistyped(key, value, "an integer")
    }

    /// An integer of at least `minimum`, or `fallback` when absent.
    mutating func count(_ key: String, atLeast minimum: Int, default fallback: Int) throws -> Int {
        guard let integer = try integer(key) else { return fallback }
        guard integer >= minimum, integer <= Int64(Int32.max) else {
            throw SweepConfigError(field: fieldPath(key), "must be an integer of at least \(minimum), found \(integer)")
        }
        return Int(integer)
    }

    mutating func bool(_ key: String) throws -> Bool? {
        guard let value = value(key) else { return nil }
        guard let bool = value.boolValue else { throw mistyped(key, value, "true or false") }
        return bool
    }

    mutating func list(_ key: String) throws -> [JSONValue]? {
        guard let value = value(key) else { return nil }
        guard let list = value.arrayValue else { throw mistyped(key, value, "a list") }
        return list
    }

    /// Throws when a field was never read: a misspelt name must not be ignored.
    func finish() throws {
        let unknown = fields.keys.filter { !read.contains($0) }.sorted()
        guard unknown.isEmpty else {
            throw SweepConfigError(unknown.map { "\(fieldPath($0)): unknown field (known: \(read.sorted().joined(separator: ", ")))" })
        }
    }

    func missing(_ key: String, _ what: String) -> SweepConfigError {
        SweepConfigError(field: fieldPath(key), "missing (\(what))")
    }

    private func mistyped(_ key: String, _ value: JSONValue, _ expected: String) -> SweepConfigError {
        SweepConfigError(field: fieldPath(key), "expected \(expected), found \(value.canonicalJSON)")
    }
}
