import Foundation

/// What pipe hands an external plugin: the parsed `request.json` that `PIPE_REQUEST` points to.
///
/// A Swift plugin starts with `let request = try PluginRequest.load()`, reads its parameters with
/// `request.params(as:)`, its inputs from `request.input(_:)`, writes into `request.output(_:)`,
/// and reports with `PluginRequest.progress`, `PluginRequest.metric` and `PluginRequest.report`.
public struct PluginRequest: Decodable, Sendable {
    public var stage: String
    public var kind: String
    public var params: JSONValue
    public var inputs: [String: String]
    public var outputs: [String: String]
    public var scratch: String
    public var work: String
    public var workspace: String
    public var threads: Int

    /// Reads the request named by `PIPE_REQUEST`.
    public static func load() throws -> PluginRequest {
        guard let path = ProcessInfo.processInfo.environment["PIPE_REQUEST"] else {
            throw StageError("PIPE_REQUEST is not set: run this plugin through `pipe run`")
        }
        return try JSONDecoder().decode(PluginRequest.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// The parameters decoded as `T` (defaults already filled in by pipe).
    public func params<T: Decodable>(as type: T.Type) throws -> T { try params.decode(T.self) }

    /// The read-only folder of input port `name`.
    public func input(_ name: String) throws -> URL {
        guard let path = inputs[name] else { throw StageError("no input named '\(name)'") }
        return URL(fileURLWithPath: path)
    }

    /// The empty folder that becomes output `name`.
    public func output(_ name: String) throws -> URL {
        guard let path = outputs[name] else { throw StageError("no output named '\(name)'") }
        return URL(fileURLWithPath: path)
    }

    /// Reports progress (0...1) with a message.
    public static func progress(_ fraction: Double, _ message: String = "") {
        print("::progress \(fraction) \(message)")
        fflush(nil)
    }

    /// Records a metric in the run.
    public static func metric(_ name: String, _ value: Double) {
        print("::metric \(name) \(value)")
        fflush(nil)
    }

    /// Reports an intermediate value of metric `name` at `step` (a validation loss at each
    /// evaluation): shown live, kept as the stage's curve, watched by a sweep's pruner.
    public static func report(_ name: String, step: Int, value: Double) {
        print("::metric \(name) \(value) step=\(step)")
        fflush(nil)
    }
}
