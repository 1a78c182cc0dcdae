/// A set of parameters declared once, on the properties that hold them: a stage's `Params`,
/// a nested object such as one of collect's `sources`, or settings several stages share.
///
///     struct Params: Parameters {
///         @Param("the matrices' type") var type = QuantType.q8_0
///         @Param("steps between evaluations", range: .positive) var eval_every = 100
///         @Param("where to read documents from") var sources: [Source]   // required
///         @ParamGroup var training: TrainingSettings                      // its fields at this level
///         init() {}
///     }
///
/// Each `@Param` gives the manifest key (the property's name), the type (the property's), the
/// default (its initial value; none makes it required), bounds and a doc line. `parameters`
/// reads them off a default instance; the engine checks a manifest against them and decodes
/// the checked values into the type with `ParamDecoder`. Every stored property of a
/// `Parameters` type is a `@Param` or a `@ParamGroup`.
public protocol Parameters: ParamValue {
    init()
}

extension Parameters {
    /// The declared parameters, in declaration order.
    public static var parameters: [ParamSpec] { Self().declarations.flatMap { $0.declaration.specs(named: $0.name) } }

    public static var paramType: ParamType { .object(parameters) }

    public var paramJSON: JSONValue {
        var fields: [String: JSONValue] = [:]
        for (name, declaration) in declarations { declaration.addValues(named: name, to: &fields) }
        return .object(fields)
    }

    /// The `@Param` and `@ParamGroup` properties, by name.
    private var declarations: [(name: String, declaration: any ParamDeclaration)] {
        Mirror(reflecting: self).children.compactMap { child in
            guard let label = child.label, let declaration = child.value as? any ParamDeclaration else { return nil }
            return (label.hasPrefix("_") ? String(label.dropFirst()) : label, declaration)
        }
    }
}

/// What the `Parameters` reflection reads from each wrapped property.
protocol ParamDeclaration {
    func specs(named name: String) -> [ParamSpec]
    func addValues(named name: String, to fields: inout [String: JSONValue])
}

/// One parameter: its value, and (on a default instance) its doc, bounds and default.
@propertyWrapper
public struct Param<Value: ParamValue>: Decodable, Sendable, ParamDeclaration {
    private var value: Value?
    private let doc: String
    private let range: ParamRange?

    /// A parameter with a default: the property's initial value.
    public init(wrappedValue: Value, _ doc: String, range: ParamRange? = nil) {
        value = wrappedValue
        self.doc = doc
        self.range = range
    }

    /// A required parameter: a manifest must give it.
    public init(_ doc: String, range: ParamRange? = nil) {
        value = nil
        self.doc = doc
        self.range = range
    }

    public init(from decoder: any Decoder) throws {
        value = try decoder.singleValueContainer().decode(Value.self)
        doc = ""
        range = nil
    }

    public var wrappedValue: Value {
        get {
            guard let value else { preconditionFailure("required parameter read before it was decoded") }
            return value
        }
        set { value = newValue }
    }

    func specs(named name: String) -> [ParamSpec] {
        [ParamSpec(name, Value.paramType, default: value?.paramJSON, range: range, doc: doc)]
    }

    func addValues(named name: String, to fields: inout [String: JSONValue]) {
        if let value { fields[name] = value.paramJSON }
    }
}

/// Parameters compare by value (not by doc or bounds, which only a default instance carries).
extension Param: Equatable where Value: Equatable {
    public static func == (a: Param, b: Param) -> Bool { a.value == b.value }
}

/// The parameters of a shared `Parameters` type declared at this level, not under a key of their
/// own (train, prune and distill share `TrainingSettings` so).
@propertyWrapper
public struct ParamGroup<Group: Parameters>: Decodable, Sendable, ParamDeclaration, InlineDecodable {
    public var wrappedValue: Group

    public init() { wrappedValue = Group() }

    public init(from decoder: any Decoder) throws { wrappedValue = try Group(from: decoder) }

    func specs(named name: String) -> [ParamSpec] { Group.parameters }

    func addValues(named name: String, to fields: inout [String: JSONValue]) {
        if case .object(let values) = wrappedValue.paramJSON { fields.merge(values) { _, new in new } }
    }
}

/// A value decoded from the object that holds it rather than from a key of it.
protocol InlineDecodable: Decodable {}
