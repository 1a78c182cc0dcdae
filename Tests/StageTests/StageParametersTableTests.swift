import BuiltinStages
import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// Every built-in stage's declared parameters agree with the type its code decodes: the declared
/// defaults (with a sample for each required parameter) decode, every parameter has a doc line
/// and a default inside its bounds, and the JSON Schema that `pipe stages --schema` prints
/// describes each field with the declared type, default and bounds.
final class StageParametersTableTests: XCTestCase {
    /// The parameters as the manifest loader completes them: every default, nested objects too.
    static func defaults(_ specs: [ParamSpec]) -> JSONValue {
        .object(Dictionary(uniqueKeysWithValues: specs.map { spec -> (String, JSONValue) in
            if case .object(let fields) = spec.type, spec.defaultValue == .object([:]) || spec.defaultValue == nil {
                return (spec.name, defaults(fields))
            }
            return (spec.name, spec.defaultValue ?? sample(spec.type))
        }))
    }

    /// A value of `type` for a required parameter.
    static func sample(_ type: ParamType) -> JSONValue {
        switch type {
        case .string, .any: return .string("x")
        case .int: return .int(1)
        case .float: return .double(0.5)
        case .bool: return .bool(true)
        case .choice(let options): return .string(options[0])
        case .list(let item): return .array([sample(item)])
        case .map(let value): return .object(["k": sample(value)])
        case .object(let fields): return defaults(fields)
        }
    }

    func testEveryBuiltinStagesDefaultsDecodeAndTheSchemaMatchesTheDeclaration() throws {
        let registry = BuiltinStages.registry
        XCTAssertEqual(registry.names.count, 16)
        let schema = ManifestSchema.schema(for: registry.names.map { registry.builtins[$0]! })
        let branches = schema["properties"]?["stages"]?["additionalProperties"]?["allOf"]?.arrayValue ?? []
        for name in registry.names {
            let d = registry.builtins[name]!
            let problems = d.validate(Self.defaults(d.parameters))
            XCTAssertFalse(problems.contains { $0.message.contains("do not decode") }, "\(name): \(problems.map(\.message))")

            let branch = branches.first { $0["if"]?["properties"]?["uses"]?["const"] == .string(name) }
            let with = try XCTUnwrap(branch?["then"]?["properties"]?["with"], "\(name) has a schema branch")
            XCTAssertEqual(Set(with["properties"]?.objectValue?.keys.map { $0 } ?? []), Set(d.parameters.map(\.name)), name)
            for spec in d.parameters {
                let field = try XCTUnwrap(with["properties"]?[spec.name], "\(name).\(spec.name)")
                let declared = field["anyOf"]?.arrayValue?.first ?? field
                if let value = spec.defaultValue, value != .null { XCTAssertEqual(field["default"], value, "\(name).\(spec.name) default") }
                if let range = spec.range, spec.type == .int || spec.type == .float {
                    XCTAssertEqual(declared[range.lowerInclusive ? "minimum" : "exclusiveMinimum"]?.doubleValue, range.lower, "\(name).\(spec.name)")
                    XCTAssertEqual(declared[range.upperInclusive ? "maximum" : "exclusiveMaximum"]?.doubleValue, range.upper, "\(name).\(spec.name)")
                }
                switch spec.type {
                case .int: XCTAssertEqual(declared["type"], .string("integer"), "\(name).\(spec.name)")
                case .float: XCTAssertEqual(declared["type"], .string("number"), "\(name).\(spec.name)")
                case .bool: XCTAssertEqual(declared["type"], .string("boolean"), "\(name).\(spec.name)")
                case .choice(let options): XCTAssertEqual(declared["enum"], .array(options.map(JSONValue.string)), "\(name).\(spec.name)")
                case .object: XCTAssertEqual(declared["type"], .string("object"), "\(name).\(spec.name)")
                default: break
                }
            }
        }
    }

    func testEveryBuiltinParameterHasADocAndADefaultWithinItsBounds() {
        func check(_ specs: [ParamSpec], _ path: String) {
            for spec in specs {
                let name = path + spec.name
                XCTAssertFalse(spec.doc.isEmpty, "\(name) has no doc line")
                if let range = spec.range, let value = spec.defaultValue?.doubleValue {
                    XCTAssertTrue(range.contains(value), "\(name): default \(value) is outside \(range)")
                }
                check(spec.type.declaredFields, name + ".")
            }
        }
        for name in BuiltinStages.registry.names { check(BuiltinStages.registry.builtins[name]!.parameters, name + ": ") }
    }
}
