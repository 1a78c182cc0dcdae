import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// Finds and kills every process a child started, including those that left its process group
/// (`setsid`, a double fork into the background).
///
/// Each child gets a token in its environment (`PIPE_CHILD_TOKEN`), which its descendants
/// inherit; ending a child kills its group, then every process whose environment carries the
/// token. A descendant that clears its environment escapes this (documented in docs/plugins.md).
public enum ProcessReaper {
    static let variable = "PIPE_CHILD_TOKEN"
    private static let mutex = NSLock()
    nonisolated(unsafe) private static var live: [String: pid_t] = [:]

    /// A fresh token for a child about to start.
    static func newToken() -> String { "\(getpid())-\(UInt64.random(in: 0...UInt64.max))" }

    /// Records a started child's group under its token, so `killAll` can find it.
    static func register(_ token: String, group: pid_t) { mutex.withLock { live[token] = group } }

    /// Kills a child's group and every process carrying its token, then forgets it. Throws when
    /// `/proc` cannot be listed: the group is gone, but descendants that left it may remain.
    static func reap(_ token: String, group: pid_t) throws {
        kill(-group, SIGKILL)
        defer { _ = mutex.withLock { live.removeValue(forKey: token) } }
        try killTagged(token)
    }

    /// Kills every child still running and its descendants: the last act of a process that
    /// must exit now. Every group is killed even when a search for strays fails; the failures
    /// are returned so the caller can say which descendants may have survived.
    public static func killAll() -> [Error] {
        var failures: [Error] = []
        for (token, group) in mutex.withLock({ live }) {
            do { try reap(token, group: group) } catch { failures.append(error) }
        }
        return failures
    }

    /// SIGKILLs every process whose environment holds `PIPE_CHILD_TOKEN=<token>`. A process whose
    /// environment cannot be read has exited or is not ours, so it is passed over.
    static func killTagged(_ token: String) throws {
        let entry = Array("\(variable)=\(token)".utf8)
        let processes: [String]
        do {
            processes = try FileManager.default.contentsOfDirectory(atPath: "/proc")
        } catch {
            throw StageError("cannot list /proc to find the processes a plugin left behind: \(error.localizedDescription)")
        }
        let me = getpid()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        for name in processes {
            guard let pid = pid_t(name), pid != me, environment(of: name, holds: entry, buffer: &buffer) else { continue }
            kill(pid, SIGKILL)
        }
    }

    /// Whether the environment of process `pid` (`/proc/<pid>/environ`: NUL-separated entries)
    /// has the entry `entry`, read into `buffer` (grown as needed, reused from one process to
    /// the next); false when it cannot be read.
    private static func environment(of pid: String, holds entry: [UInt8], buffer: inout [UInt8]) -> Bool {
        let fd = open("/proc/\(pid)/environ", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var count = 0
        while true {
            if count == buffer.count { buffer += [UInt8](repeating: 0, count: buffer.count) }
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n == 0 { break }
            if n < 0 {
                if errno == EINTR { continue }
                return false
            }
            count += n
        }
        var start = 0
        while start < count {
            let end = buffer[start..<count].firstIndex(of: 0) ?? count
            if end - start == entry.count, buffer[start..<end].elementsEqual(entry) { return true }
            start = end + 1
        }
        return false
    }
}
