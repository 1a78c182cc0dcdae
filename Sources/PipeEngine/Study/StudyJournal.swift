import Foundation
import PipeKit
#if canImport(Glibc)
import Glibc
#endif

/// A study's append-only journal, `<cache>/sweeps/<study>/journal.jsonl`: one JSON object per
/// line. Each line is written whole by one `write` on an `O_APPEND` descriptor and fsynced, so
/// several processes append to it at once without interleaving, and a line written is a line
/// kept. Reading skips what does not parse: a line torn by a crash, which `repair` also ends
/// with a newline before anything more is appended. Claiming the next trial happens under a
/// short `flock` (`whileClaiming`), so two processes never claim the same trial.
public final class StudyJournal: @unchecked Sendable {
    public let folder: URL
    public let url: URL
    private let claimLock: FileLock
    /// `flock` excludes other processes only: workers of this one take this first.
    private let claimMutex = NSLock()
    private let fd: Int32
    /// What `state()` has read: the state of the journal's first `offset` bytes, and how many
    /// of its lines were not entries.
    private var followed = (offset: 0, state: StudyState([]), skipped: 0)
    private let followMutex = NSLock()

    /// The journal of `study` under the cache, creating its folder and file.
    public init(cache: Cache, study: String) throws {
        folder = cache.root.appendingPathComponent("sweeps").appendingPathComponent(study)
        url = folder.appendingPathComponent("journal.jsonl")
        try FileSystem.makeDirectory(folder)
        claimLock = try FileLock(path: folder.appendingPathComponent("claim.lock").path)
        let path = url.path
        fd = try FileSystem.call("open", path) { open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644) }
    }

    deinit { close(fd) }

    /// The journal of `study` if it was ever started, else nil (nothing is created).
    public static func existing(cache: Cache, study: String) throws -> StudyJournal? {
        let url = cache.root.appendingPathComponent("sweeps/\(study)/journal.jsonl")
        return FileManager.default.fileExists(atPath: url.path) ? try StudyJournal(cache: cache, study: study) : nil
    }

    /// A study name must be usable as one folder name.
    public static func isValidName(_ name: String) -> Bool {
        ManifestLoader.isValidStageName(name)
    }

    /// Appends one entry as one line, and fsyncs it.
    public func append(_ entry: JournalEntry) throws {
        var line = try Self.encoder.encode(entry)
        line.append(0x0A)
        try line.withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: url.path) }
        _ = try FileSystem.call("fsync", url.path) { fsync(fd) }
    }

    /// Every entry that parses and makes sense, in order, and how many lines did not.
    public func read() throws -> (entries: [JournalEntry], skipped: Int) {
        Self.entries(in: try bytes(from: 0))
    }

    /// The study's state, reading only the lines appended since the last call (the journal only
    /// grows), so a trial costs the lines it added rather than a read of the whole journal. A
    /// line still being written has no newline yet: it is read by a later call. A journal
    /// shorter than what was read (removed and started again) is read afresh.
    public func state() throws -> StudyState {
        try followMutex.withLock {
            var tail = try bytes(from: followed.offset)
            if tail.isEmpty, let size = FileSystem.size(url.path), size < followed.offset {
                followed = (0, StudyState([]), 0)
                tail = try bytes(from: 0)
            }
            guard let end = tail.lastIndex(of: 0x0A) else { return followed.state }
            let read = Self.entries(in: tail[..<end])
            followed.state.fold(read.entries)
            followed.skipped += read.skipped
            followed.offset += end - tail.startIndex + 1
            return followed.state
        }
    }

    /// Lines `state()` has passed over because they are not entries (a line torn by a crash, or
    /// damage), for a warning.
    public var skippedLines: Int { followMutex.withLock { followed.skipped } }

    /// The warning for `count` lines of this journal that are not entries.
    public func skippedWarning(_ count: Int) -> String {
        "warning: \(url.path): \(count) line(s) that are not journal entries passed over (a half-written last line is what a killed sweep leaves)"
    }

    /// The journal's bytes from `offset` to its end (none when it does not exist).
    private func bytes(from offset: Int) throws -> Data {
        do {
            return try FileSystem.readIfPresent(url, from: offset) ?? Data()
        } catch {
            throw StageError("cannot read the sweep journal \(url.path): \(FileSystem.reason(error))")
        }
    }

    /// The entries of whole lines that parse and make sense, in order, and how many did not
    /// (counted, and reported by the callers with the journal's path).
    private static func entries(in data: Data) -> (entries: [JournalEntry], skipped: Int) {
        var entries: [JournalEntry] = []
        var skipped = 0
        for line in data.split(separator: 0x0A) where !line.isEmpty {
            if let entry = try? decoder.decode(JournalEntry.self, from: line), entry.problem == nil {
                entries.append(entry)
            } else {
                skipped += 1
            }
        }
        return (entries, skipped)
    }

    /// Runs `body` holding the study's claim lock (held briefly: read, decide, append).
    public func whileClaiming<T>(_ body: () throws -> T) throws -> T {
        try claimMutex.withLock {
            try claimLock.lock()
            defer { claimLock.unlock() }
            return try body()
        }
    }

    /// Ends a last line torn by a crash with a newline, so the next entry starts a line of its
    /// own. Call while claiming: no other process is appending an entry then.
    public func repair() throws {
        guard let data = try FileSystem.readIfPresent(url), let last = data.last, last != 0x0A else { return }
        try Data([0x0A]).withUnsafeBytes { try FileSystem.writeAll(fd, $0, path: url.path) }
    }

    private static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    private static let decoder = JSONDecoder()
}
