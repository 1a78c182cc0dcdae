import Foundation
import PipeKit

/// `<manifest>.lock`: each stage's last key and key parts, so `pipe status` can say why a stage
/// is stale, plus what was published where.
public struct PipelineLock: Sendable, Codable {
    /// One stage's last completed run.
    public struct Entry: Sendable, Codable {
        public var key: String
        public var parts: KeyParts
        public var outputs: [String: String]
        /// Workspace path -> what was copied there.
        public var published: [String: Published]?
    }

    /// A published copy of an artifact, with the stamps that tell whether it was touched since.
    public struct Published: Sendable, Codable, Equatable {
        public var artifact: String
        public var stamp: String
    }

    public var version = 1
    public var stages: [String: Entry] = [:]

    public init() {}

    public static func load(_ url: URL) -> PipelineLock {
        guard let data = try? Data(contentsOf: url),
              let lock = try? JSONDecoder().decode(PipelineLock.self, from: data) else { return PipelineLock() }
        return lock
    }

    public func save(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(try encoder.encode(self), to: url)
    }
}

/// Updates `<manifest>.lock` as stages finish. Each update re-reads the file under a
/// cross-process lock, so concurrent `pipe run`s of one manifest never drop each other's entries.
final class LockFileWriter: @unchecked Sendable {
    private let url: URL
    private let guardLock: FileLock?
    private let mutex = NSLock()
    private var current: PipelineLock

    init(url: URL, cache: Cache) {
        self.url = url
        current = PipelineLock.load(url)
        guardLock = try? FileLock(path: cache.root.appendingPathComponent(
            "locks/manifest-\(Hasher128.hash(url.path).hex).lock").path)
    }

    /// The lock as this run last saw it (read at start, refreshed on each update).
    var snapshot: PipelineLock { mutex.withLock { current } }

    func update(_ stage: String, _ change: (inout PipelineLock.Entry?) -> Void) {
        mutex.withLock {
            guardLock?.lock()
            defer { guardLock?.unlock() }
            var lock = PipelineLock.load(url)
            var entry = lock.stages[stage]
            change(&entry)
            lock.stages[stage] = entry
            try? lock.save(url)
            current = lock
        }
    }
}
