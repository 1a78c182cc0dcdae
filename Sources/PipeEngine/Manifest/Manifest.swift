import Foundation
import PipeKit

/// A validated manifest: every stage resolved to its kind, parameters checked and filled,
/// inputs wired to existing outputs of the right kind, and the graph acyclic.
public struct Manifest: Sendable {
    /// The manifest file (absolute) and how messages name it.
    public var url: URL
    public var displayPath: String
    public var workspace: URL
    public var name: String
    public var params: [String: JSONValue]
    /// The `cache:` field, if any (relative to the workspace).
    public var cache: String?
    /// The `executor:` field, if any (`pipe run --executor` overrides it).
    public var executor: ExecutorKind?
    /// The `--set name=value` overrides it was loaded with, as [name, value] pairs, so a job can
    /// load the same manifest elsewhere.
    public var overrides: [[String]]
    /// Stages in the order the manifest lists them.
    public var stages: [ManifestStage]
    /// The `sweep:` block, if any (`pipe sweep`).
    public var sweep: SweepBlock?

    public func stage(_ name: String) -> ManifestStage? { stages.first { $0.name == name } }

    /// `<manifest>.lock` beside the manifest.
    public var lockURL: URL {
        let base = url.deletingPathExtension()
        return base.appendingPathExtension("lock")
    }
}

/// Where stale stages run: on this machine, or as Slurm jobs.
public enum ExecutorKind: String, Sendable, Codable, CaseIterable {
    case local, slurm
}

/// A reference to another stage's output: `stage.output`.
public struct OutputRef: Sendable, Hashable, CustomStringConvertible {
    public var stage: String
    public var output: String
    public var description: String { "\(stage).\(output)" }
}

/// One stage of a manifest, validated.
public struct ManifestStage: Sendable {
    public var name: String
    public var location: SourceLocation
    /// `uses:` as written.
    public var uses: String
    public var descriptor: StageDescriptor
    /// Parameters with defaults filled in (a JSON object).
    public var params: JSONValue
    /// Input port -> upstream output.
    public var inputs: [String: OutputRef]
    /// Ordering-only dependencies.
    public var needs: [String]
    /// Seconds, or nil for no limit.
    public var timeout: Double?
    /// Output name -> workspace path.
    public var publish: [String: String]
    /// Resource requests for executors.
    public var resources: StageResources

    /// Every stage this one waits for.
    public var dependencies: [String] {
        var seen: [String] = []
        for ref in inputs.values.sorted(by: { $0.description < $1.description }) where !seen.contains(ref.stage) {
            seen.append(ref.stage)
        }
        for need in needs where !seen.contains(need) { seen.append(need) }
        return seen
    }
}
