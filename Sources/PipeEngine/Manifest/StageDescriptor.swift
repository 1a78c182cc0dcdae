import Foundation
import PipeKit

/// Everything the engine knows about a stage kind, whether built in or an external plugin.
public struct StageDescriptor: Sendable {
    /// Where the stage's code comes from.
    public enum Origin: Sendable {
        case builtin(BuiltinStage)
        case plugin(PluginDefinition)
    }

    public var name: String
    public var summary: String
    public var inputs: [StagePort]
    public var outputs: [StagePort]
    public var parameters: [ParamSpec]
    public var origin: Origin

    public func input(_ name: String) -> StagePort? { inputs.first { $0.name == name } }
    public func output(_ name: String) -> StagePort? { outputs.first { $0.name == name } }

    /// Checks beyond declared types, by the stage's own rules.
    func validate(_ params: JSONValue) -> [ParamProblem] {
        if case .builtin(let stage) = origin { return stage.validate(params) }
        return []
    }

    /// External files the stage reads for these parameters; parameters that do not decode are
    /// an error, never an empty list (the files would drop out of the key).
    func externalInputs(_ params: JSONValue) throws -> [ExternalInput] {
        switch origin {
        case .builtin(let stage): return try stage.externalInputs(params)
        case .plugin(let plugin): return plugin.externalInputs(params)
        }
    }
}

/// A built-in `Stage` type with its parameters erased to JSON.
public struct BuiltinStage: Sendable {
    public let version: Int
    let validate: @Sendable (JSONValue) -> [ParamProblem]
    let externalInputs: @Sendable (JSONValue) throws -> [ExternalInput]
    let run: @Sendable (JSONValue, StageContext) async throws -> Void
    /// How to split the work, for a `ShardableStage`.
    let sharding: BuiltinSharding?

    public init<S: Stage>(_ type: S.Type) {
        sharding = (S.self as? any ShardableStage.Type).map { BuiltinSharding($0) }
        version = S.version
        validate = { json in
            do { return S.validate(try S.decodeParams(json)) } catch {
                return [ParamProblem([], "parameters do not decode: \(error)")]
            }
        }
        externalInputs = { json in
            do { return S.externalInputs(try S.decodeParams(json)) } catch {
                throw StageError("parameters of a \(S.name) stage do not decode: \(error)")
            }
        }
        run = { json, context in
            try await S().run(try S.decodeParams(json), context)
        }
    }
}

/// A `ShardableStage`'s three steps with its parameters erased to JSON.
struct BuiltinSharding: Sendable {
    let shards: @Sendable (JSONValue, StageContext) throws -> [ShardSpec]
    let runShards: @Sendable (JSONValue, [ShardSpec], StageContext) async throws -> Void
    let merge: @Sendable (JSONValue, [[String: URL]], StageContext) async throws -> Void

    init<S: ShardableStage>(_ type: S.Type) {
        shards = { json, context in try S.shards(try S.decodeParams(json), context) }
        runShards = { json, units, context in try await S().runShards(try S.decodeParams(json), units, context) }
        merge = { json, pieces, context in try await S().merge(try S.decodeParams(json), pieces: pieces, context) }
    }
}

extension StageDescriptor {
    /// The descriptor of a built-in stage type.
    public init<S: Stage>(builtin type: S.Type) {
        self.init(name: S.name, summary: S.summary, inputs: S.inputs, outputs: S.outputs,
                  parameters: S.parameters, origin: .builtin(BuiltinStage(S.self)))
    }
}

/// Finds stage kinds by the name a manifest gives in `uses:`.
public struct StageRegistry: Sendable {
    public private(set) var builtins: [String: StageDescriptor] = [:]

    public init(_ builtins: [StageDescriptor]) {
        for d in builtins { self.builtins[d.name] = d }
    }

    public var names: [String] { builtins.keys.sorted() }

    public func contains(_ name: String) -> Bool { builtins[name] != nil }
}
