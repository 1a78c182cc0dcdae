import Foundation
import PipeKit

/// What `pipe verify` found.
public struct VerifyReport: Sendable {
    public var objectsChecked = 0
    public var bytesChecked: Int64 = 0
    /// Corrupt objects (already removed) with the reason.
    public var corrupt: [(blob: String, reason: String)] = []
    /// Run records whose outputs are no longer all present (those stages will rerun).
    public var incompleteRuns: [String] = []
    /// Run records that cannot be read, with the reason (those stages will rerun).
    public var unreadableRuns: [String] = []
}

/// What `pipe gc` removed (or would remove).
public struct GCReport: Sendable {
    public var runsRemoved = 0
    public var objectsRemoved = 0
    public var bytesFreed: Int64 = 0
    public var runsKept = 0
    public var objectsKept = 0
    /// Run records that could not be read (left in place), with the reason.
    public var unreadableRuns: [(path: String, reason: String)] = []
}

/// Cache upkeep: re-hashing every object, and removing what no lock file references.
public enum Maintenance {
    /// Re-hashes every object on `threads` threads; corrupt objects are removed.
    public static func verify(_ cache: Cache, threads: Int) -> VerifyReport {
        let blobs = cache.objects.allBlobs()
        let checks = (try? Parallel.map(blobs.count, threads: threads) { i -> (size: Int64, problem: String?) in
            var size: Int64 = 0
            do {
                try cache.objects.read(blobs[i]) { size += Int64($0.count) }
                return (size, nil)
            } catch {
                return (size, "\(error)")
            }
        }) ?? []
        var report = VerifyReport()
        report.objectsChecked = blobs.count
        for (blob, check) in zip(blobs, checks) {
            report.bytesChecked += check.size
            if let problem = check.problem { report.corrupt.append((blob, problem)) }
        }
        for key in cache.runs.allKeys() {
            do {
                if let record = try cache.runs.load(key), !record.isComplete(in: cache.objects) { report.incompleteRuns.append(key) }
            } catch {
                report.unreadableRuns.append("\(error)")
            }
        }
        return report
    }

    /// Removes run records not in `keep` and objects no kept record references. Anything
    /// younger than `grace` seconds is kept, since a concurrent run may be about to record it.
    public static func collect(_ cache: Cache, keep: Set<String>, dryRun: Bool, grace: TimeInterval = 3600) -> GCReport {
        var report = GCReport()
        let now = Date()
        func isYoung(_ path: String) -> Bool {
            guard let date = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date else { return false }
            return now.timeIntervalSince(date) < grace
        }
        var liveBlobs = Set<String>()
        for key in cache.runs.allKeys() {
            let path = cache.runs.url(key).path
            let record: RunRecord
            do {
                guard let found = try cache.runs.load(key) else { continue }
                record = found
            } catch {
                report.unreadableRuns.append((path, "\(error)"))
                continue
            }
            if keep.contains(key) || isYoung(path) {
                report.runsKept += 1
                for tree in record.outputs.values { tree.files.forEach { liveBlobs.insert($0.blob) } }
                if let log = record.log { liveBlobs.insert(log) }
            } else {
                report.runsRemoved += 1
                if !dryRun {
                    cache.runs.remove(key)
                    FileSystem.removeTree(cache.workFolder(key))
                }
            }
        }
        for blob in cache.objects.allBlobs() {
            let path = cache.objects.path(of: blob)
            if liveBlobs.contains(blob) || isYoung(path) {
                report.objectsKept += 1
                continue
            }
            report.objectsRemoved += 1
            report.bytesFreed += FileSystem.size(path) ?? 0
            if !dryRun { cache.objects.remove(blob) }
        }
        if !dryRun { cache.removeOrphans() }
        return report
    }
}
