import Foundation

/// A stage kind: the contract every built-in stage module implements.
///
/// The engine knows a stage only through this protocol. It validates `with:` against the
/// parameters `Params` declares, fills defaults, decodes `Params` from the result, and calls
/// `run` with a context whose inputs are read-only artifacts and whose outputs are empty folders.
public protocol Stage: Sendable {
    associatedtype Params: Parameters

    /// The name manifests use in `uses:` (`minhash-dedup`).
    static var name: String { get }
    /// Bump when the output for the same inputs and parameters changes.
    static var version: Int { get }
    /// One line for `pipe stages`.
    static var summary: String { get }
    static var inputs: [StagePort] { get }
    static var outputs: [StagePort] { get }

    /// Files outside the cache that the stage reads; their contents become part of the key.
    static func externalInputs(_ params: Params) -> [ExternalInput]
    /// Checks beyond types (ranges, consistency), each located by a parameter path.
    static func validate(_ params: Params) -> [ParamProblem]

    init()
    func run(_ params: Params, _ context: StageContext) async throws
}

extension Stage {
    /// The parameters, as `Params` declares them.
    public static var parameters: [ParamSpec] { Params.parameters }

    /// `Params` from checked values (defaults filled).
    public static func decodeParams(_ values: JSONValue) throws -> Params { try ParamDecoder().decode(Params.self, from: values) }

    public static func externalInputs(_ params: Params) -> [ExternalInput] { [] }
    public static func validate(_ params: Params) -> [ParamProblem] { [] }
}

/// Files outside the cache that a stage reads: a file, or a folder filtered by globs.
public struct ExternalInput: Sendable, Hashable, Codable {
    /// A path, relative to the workspace or absolute.
    public var path: String
    /// Globs relative to `path` that select files when `path` is a folder (`**/*.txt`).
    public var include: [String]
    public var exclude: [String]

    public init(path: String, include: [String] = [], exclude: [String] = []) {
        self.path = path
        self.include = include
        self.exclude = exclude
    }
}
