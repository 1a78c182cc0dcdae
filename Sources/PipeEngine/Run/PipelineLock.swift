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
        /// For a folder, the files pipe wrote into it (nil for a one-file copy); nothing else in
        /// the folder may be replaced.
        public var files: [String]?
    }

    public var version = 1
    public var stages: [String: Entry] = [:]

    public init() {}

    /// Every published copy of every stage, by workspace path.
    public var publishedCopies: [String: Published] {
        var copies: [String: Published] = [:]
        for entry in stages.values { entry.published?.forEach { copies[$0.key] = $0.value } }
        return copies
    }

    /// The lock at `url`; empty when there is none. A file that cannot be read or decoded is an
    /// error naming it, never taken for an empty lock.
    public static func load(_ url: URL) throws -> PipelineLock {
        let data: Data
        do {
            guard let present = try FileSystem.readIfPresent(url) else { return PipelineLock() }
            data = present
        } catch {
            throw LockFileError.unreadable(path: url.path, reason: FileSystem.reason(error))
        }
        do {
            return try JSONDecoder().decode(PipelineLock.self, from: data)
        } catch {
            throw LockFileError.corrupt(path: url.path, reason: "\(error)")
        }
    }

    public func save(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileSystem.writeAtomically(try encoder.encode(self), to: url)
    }
}

/// A lock file that cannot be used.
public enum LockFileError: Error, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    case corrupt(path: String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): return "cannot read the lock file \(path): \(reason)"
        case .corrupt(let path, let reason): return "the lock file \(path) is corrupt (\(reason))"
        }
    }
}

/// Updates `<manifest>.lock` as stages finish. Each update re-reads the file under a
/// cross-process lock, so concurrent `pipe run`s of one manifest never drop each other's entries.
///
/// A corrupt lock file is read as empty and reported in `corruption`; `setAsideCorrupt()` renames
/// it (never overwrites it) before the first update.
final class LockFileWriter: @unchecked Sendable {
    private let url: URL
    private let guardLock: FileLock
    private let mutex = NSLock()
    private var current: PipelineLock
    /// Why the lock file found at start could not be used, if it could not.
    private(set) var corruption: LockFileError?

    init(url: URL, cache: Cache) throws {
        self.url = url
        let guardPath = cache.root.appendingPathComponent("locks/manifest-\(Hasher128.hash(url.path).hex).lock").path
        do {
            guardLock = try FileLock(path: guardPath)
        } catch {
            throw StageError("cannot create the lock that guards \(url.lastPathComponent) (\(guardPath)): \(FileSystem.reason(error))")
        }
        do {
            current = try PipelineLock.load(url)
        } catch let error as LockFileError {
            // A corrupt file is set aside and the run starts afresh; one that cannot be read at
            // all (a folder in its place, no permission) stops the run: it is not pipe's to move.
            guard case .corrupt = error else { throw error }
            corruption = error
            current = PipelineLock()
        }
    }

    /// The lock as this run last saw it (read at start, refreshed on each update).
    var snapshot: PipelineLock { mutex.withLock { current } }

    /// Renames a corrupt lock file to `<name>.corrupt-<time>` so updates start afresh; returns the
    /// new path, or nil when there was nothing to set aside.
    func setAsideCorrupt() throws -> URL? {
        guard corruption != nil else { return nil }
        return try mutex.withLock {
            try guardLock.lock()
            defer { guardLock.unlock() }
            do {
                _ = try PipelineLock.load(url)
                return nil  // another run replaced it since
            } catch LockFileError.corrupt {
                // still corrupt: set it aside below
            }
            let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
            let aside = url.deletingLastPathComponent().appendingPathComponent("\(url.lastPathComponent).corrupt-\(stamp)")
            try FileSystem.call("rename", aside.path) { rename(url.path, aside.path) }
            return aside
        }
    }

    func update(_ stage: String, _ change: (inout PipelineLock.Entry?) -> Void) throws {
        try mutex.withLock {
            try guardLock.lock()
            defer { guardLock.unlock() }
            var lock = try PipelineLock.load(url)
            var entry = lock.stages[stage]
            change(&entry)
            lock.stages[stage] = entry
            do {
                try lock.save(url)
            } catch {
                throw StageError("cannot save the lock file \(url.path): \(FileSystem.reason(error))")
            }
            current = lock
        }
    }
}
