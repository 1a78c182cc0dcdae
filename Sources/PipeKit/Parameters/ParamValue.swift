/// A type a stage parameter can have: it names its manifest type and gives its value as JSON
/// (the form defaults take in `pipe stages`, the schema and the cache key).
public protocol ParamValue: Decodable, Sendable {
    static var paramType: ParamType { get }
    var paramJSON: JSONValue { get }
}

/// A parameter whose value is one of a fixed set of strings, declared as a `String` enum.
///
///     enum Scope: String, ParamChoice { case global, layer }
public protocol ParamChoice: ParamValue, CaseIterable, RawRepresentable where RawValue == String {}

extension ParamChoice {
    public static var paramType: ParamType { .choice(allCases.map(\.rawValue)) }
    public var paramJSON: JSONValue { .string(rawValue) }
}

extension Int: ParamValue {
    public static var paramType: ParamType { .int }
    public var paramJSON: JSONValue { .int(Int64(self)) }
}

extension Double: ParamValue {
    public static var paramType: ParamType { .float }
    public var paramJSON: JSONValue { .double(self) }
}

extension String: ParamValue {
    public static var paramType: ParamType { .string }
    public var paramJSON: JSONValue { .string(self) }
}

extension Bool: ParamValue {
    public static var paramType: ParamType { .bool }
    public var paramJSON: JSONValue { .bool(self) }
}

extension JSONValue: ParamValue {
    public static var paramType: ParamType { .any }
    public var paramJSON: JSONValue { self }
}

/// An optional parameter: `null` (the default unless another is given) means "not set".
extension Optional: ParamValue where Wrapped: ParamValue {
    public static var paramType: ParamType { Wrapped.paramType }
    public var paramJSON: JSONValue { self?.paramJSON ?? .null }
}

extension Array: ParamValue where Element: ParamValue {
    public static var paramType: ParamType { .list(Element.paramType) }
    public var paramJSON: JSONValue { .array(map(\.paramJSON)) }
}

/// A map with free-form keys (metric names, labels) and values of one type.
extension Dictionary: ParamValue where Key == String, Value: ParamValue {
    public static var paramType: ParamType { .map(Value.paramType) }
    public var paramJSON: JSONValue { .object(mapValues(\.paramJSON)) }
}
