import Foundation
import PipeKit

/// The last completed run of each stage of a manifest, as its lock file names them: the one
/// query behind `pipe show`, `pipe generate` and the report.
public struct StageRuns: Sendable {
    public let lock: PipelineLock
    let cache: Cache

    /// Reads the manifest's lock file; a corrupt one is an error naming it.
    public init(manifest: Manifest, cache: Cache) throws {
        lock = try PipelineLock.load(manifest.lockURL)
        self.cache = cache
    }

    /// The stage's last run, or nil when it never completed or its record was collected. A
    /// corrupt record is an error naming its file.
    public func last(_ stage: String) throws -> RunRecord? {
        guard let key = lock.stages[stage]?.key else { return nil }
        return try cache.runs.load(key)
    }
}
