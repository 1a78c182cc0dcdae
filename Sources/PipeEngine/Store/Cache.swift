import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The cache root and its parts:
/// `objects/` (blobs), `runs/` (run records), `locks/` (one per stage key), `work/` (resumable
/// work folders), `tmp/` (in-flight runs), `state/` (stat cache).
public final class Cache: Sendable {
    public let root: URL
    public let objects: ObjectStore
    public let runs: RunStore
    public let stats: StatCache

    /// `compressionLevel` is zstd's level for new objects (`PIPE_ZSTD_LEVEL` sets it for the CLI).
    public init(root: URL, compressionLevel: Int32 = ObjectStore.defaultLevel) {
        self.root = root.standardizedFileURL
        objects = ObjectStore(cacheRoot: self.root, level: compressionLevel)
        runs = RunStore(cacheRoot: self.root)
        stats = StatCache(cacheRoot: self.root)
    }

    /// The cache root by precedence: `--cache` > `PIPE_CACHE` > manifest `cache:` > `./cache`.
    public static func resolveRoot(flag: String?, environment: [String: String], manifestField: String?,
                                   workspace: URL) -> URL
    {
        let chosen = flag ?? environment["PIPE_CACHE"].flatMap { $0.isEmpty ? nil : $0 } ?? manifestField ?? "cache"
        return chosen.hasPrefix("/") ? URL(fileURLWithPath: chosen) : workspace.appendingPathComponent(chosen)
    }

    /// The persistent work folder of a stage key (checkpoints survive a crash here).
    public func workFolder(_ key: String) -> URL { root.appendingPathComponent("work/\(key)") }

    /// The lock that serializes computing one stage key across processes.
    func keyLock(_ key: String) throws -> FileLock {
        try FileLock(path: root.appendingPathComponent("locks/\(key).lock").path)
    }

    /// A fresh temporary folder owned by this process, marked by a held lock so that a later
    /// process can tell it is orphaned.
    func makeTempFolder(_ label: String) throws -> TempFolder {
        let url = root.appendingPathComponent("tmp/\(label)-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileSystem.makeDirectory(url)
        let lock = try FileLock(path: url.path + ".owner")
        try lock.lock()
        return TempFolder(url: url, owner: lock)
    }

    /// Removes temporary folders whose owning process is gone (it crashed or was killed).
    public func removeOrphans() {
        let tmp = root.appendingPathComponent("tmp")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: tmp.path) else { return }
        for name in names where name.hasSuffix(".owner") {
            let marker = tmp.appendingPathComponent(name).path
            guard let lock = try? FileLock(path: marker), lock.tryLock() else { continue }
            FileSystem.removeTree(URL(fileURLWithPath: String(marker.dropLast(6))))
            unlink(marker)
            lock.unlock()
        }
        // Object temp files: writers hold no lock, so only old ones are removed.
        let cutoff = Date().addingTimeInterval(-24 * 3600)
        for name in names where name.hasPrefix("obj-") {
            let path = tmp.appendingPathComponent(name).path
            if let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
               date < cutoff { unlink(path) }
        }
    }
}

/// A temporary folder removed when the run ends.
final class TempFolder {
    let url: URL
    private let owner: FileLock

    init(url: URL, owner: FileLock) {
        self.url = url
        self.owner = owner
    }

    func remove() {
        FileSystem.removeTree(url)
        unlink(url.path + ".owner")
        owner.unlock()
    }
}
