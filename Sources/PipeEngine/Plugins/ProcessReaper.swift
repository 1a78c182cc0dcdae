import Foundation
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

    /// Kills a child's group and every process carrying its token, then forgets it.
    static func reap(_ token: String, group: pid_t) {
        kill(-group, SIGKILL)
        killTagged(token)
        _ = mutex.withLock { live.removeValue(forKey: token) }
    }

    /// Kills every child still running and its descendants: the last act of a process that
    /// must exit now.
    public static func killAll() {
        for (token, group) in mutex.withLock({ live }) { reap(token, group: group) }
    }

    /// SIGKILLs every process whose environment holds `PIPE_CHILD_TOKEN=<token>`.
    static func killTagged(_ token: String) {
        let needle = Array("\(variable)=\(token)\0".utf8)
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return }
        for entry in entries {
            guard let pid = pid_t(entry), pid != getpid(),
                  let environment = FileManager.default.contents(atPath: "/proc/\(entry)/environ") else { continue }
            let bytes = [UInt8](environment)
            if bytes.count >= needle.count, contains(bytes, needle) { kill(pid, SIGKILL) }
        }
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        var start = 0
        while start + needle.count <= haystack.count {
            // Entries are NUL-separated; compare at each entry's start.
            if haystack[start..<start + needle.count].elementsEqual(needle) { return true }
            guard let next = haystack[start...].firstIndex(of: 0) else { return false }
            start = next + 1
        }
        return false
    }
}
