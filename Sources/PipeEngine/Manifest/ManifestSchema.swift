import Foundation
import PipeKit

/// A JSON Schema (draft 2020-12) of manifests for the given stage kinds: editors that read it
/// (VS Code's YAML extension, JetBrains) complete and check a manifest's fields, each stage's
/// `uses`, and the `with` parameters of the kind it uses, field by field with their docs.
public enum ManifestSchema {
    public static func schema(for stages: [StageDescriptor]) -> JSONValue {
        let stage: JSONValue = .object([
            "type": .string("object"),
            "required": .array([.string("uses")]),
            "additionalProperties": .bool(false),
            "properties": .object([
                "uses": .object(["description": .string("a built-in kind or ./path to a plugin folder"),
                                 "anyOf": .array([.object(["enum": .array(stages.map { .string(uses($0)) })]),
                                                  .object(["type": .string("string"), "pattern": .string("^\\.\\.?/")])])]),
                "inputs": .object(["type": .string("object"), "description": .string("input port: stage.output"),
                                   "additionalProperties": .object(["type": .string("string"), "pattern": .string("^[^.]+\\..+$")])]),
                "with": .object(["type": .string("object"), "description": .string("the stage's parameters")]),
                "needs": .object(["type": .string("array"), "items": .object(["type": .string("string")])]),
                "timeout": .object(["type": .array([.string("string"), .string("number")]), "description": .string("90s, 15m, 1h30m")]),
                "publish": .object(["type": .string("object"), "description": .string("output: workspace path"),
                                    "additionalProperties": .object(["type": .string("string")])]),
                "resources": .object(["type": .string("object")]),
                "description": .object(["type": .string("string")]),
            ]),
            "allOf": .array(stages.map { d in
                .object([
                    "if": .object(["properties": .object(["uses": .object(["const": .string(uses(d))])]), "required": .array([.string("uses")])]),
                    "then": .object(["properties": .object(["with": withSchema(d)])]),
                ])
            }),
        ])
        return .object([
            "$schema": .string("https://json-schema.org/draft/2020-12/schema"),
            "title": .string("pipe manifest"),
            "type": .string("object"),
            "required": .array([.string("version"), .string("name"), .string("stages")]),
            "properties": .object([
                "version": .object(["const": .int(1)]),
                "name": .object(["type": .string("string")]),
                "description": .object(["type": .string("string")]),
                "params": .object(["type": .string("object"), "description": .string("pipeline variables, referenced as ${params.name}")]),
                "cache": .object(["type": .string("string")]),
                "executor": .object(["enum": .array(ExecutorKind.allCases.map { .string($0.rawValue) })]),
                "sweep": .object(["type": .string("object"), "description": .string("pipe sweep: metric, direction, space, sampler, trials, parallel, prune, study (docs/sweeps.md)")]),
                "stages": .object(["type": .string("object"), "additionalProperties": stage]),
            ]),
        ])
    }

    /// What a manifest writes in `uses:` for this kind: its name, or a plugin's folder.
    static func uses(_ d: StageDescriptor) -> String {
        if case .plugin(let plugin) = d.origin { return plugin.reference }
        return d.name
    }

    /// The `with` object of one stage kind.
    static func withSchema(_ d: StageDescriptor) -> JSONValue {
        object(d.parameters, description: d.summary)
    }

    private static func object(_ fields: [ParamSpec], description: String) -> JSONValue {
        var schema: [String: JSONValue] = [
            "type": .string("object"),
            "additionalProperties": .bool(false),
            "properties": .object(Dictionary(uniqueKeysWithValues: fields.map { ($0.name, field($0)) })),
        ]
        let required = fields.filter(\.isRequired).map { JSONValue.string($0.name) }
        if !required.isEmpty { schema["required"] = .array(required) }
        if !description.isEmpty { schema["description"] = .string(description) }
        return .object(schema)
    }

    private static func field(_ p: ParamSpec) -> JSONValue {
        // A whole-value ${params.x} reference takes the parameter's type when the manifest loads.
        let declared = type(p.type, range: p.range)
        let typed = p.type == .string || p.type == .any ? declared : .object(["anyOf": .array([declared, reference])])
        guard case .object(var schema) = typed else { return typed }
        if !p.doc.isEmpty { schema["description"] = .string(p.doc) }
        if let value = p.defaultValue, value != .null { schema["default"] = value }
        return .object(schema)
    }

    private static let reference: JSONValue = .object(["type": .string("string"), "pattern": .string("^\\$\\{params\\.[^}]+\\}$")])

    private static func type(_ t: ParamType, range: ParamRange? = nil) -> JSONValue {
        switch t {
        case .string: return .object(["type": .string("string")])
        case .int: return .object(["type": .string("integer")].merging(bounds(range)) { $1 })
        case .float: return .object(["type": .string("number")].merging(bounds(range)) { $1 })
        case .bool: return .object(["type": .string("boolean")])
        case .any: return .object([:])
        case .choice(let options): return .object(["enum": .array(options.map(JSONValue.string))])
        case .list(let item): return .object(["type": .string("array"), "items": type(item, range: range)])
        case .map(let value): return .object(["type": .string("object"), "additionalProperties": type(value, range: range)])
        case .object(let fields): return object(fields, description: "")
        }
    }

    /// JSON Schema's `minimum`, `exclusiveMinimum`, `maximum`, `exclusiveMaximum`.
    private static func bounds(_ range: ParamRange?) -> [String: JSONValue] {
        var keywords: [String: JSONValue] = [:]
        if let lower = range?.lower { keywords[range!.lowerInclusive ? "minimum" : "exclusiveMinimum"] = .double(lower) }
        if let upper = range?.upper { keywords[range!.upperInclusive ? "maximum" : "exclusiveMaximum"] = .double(upper) }
        return keywords
    }
}
