import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// A thread-safe flag set when a run is interrupted; one made with a parent (a stage's own,
/// under its run's) also counts as set when the parent is.
public final class CancellationFlag: @unchecked Sendable {
    private let mutex = NSLock()
    private var value = false
    private let parent: CancellationFlag?
    public init(parent: CancellationFlag? = nil) { self.parent = parent }
    public var isSet: Bool { mutex.withLock { value } || (parent?.isSet ?? false) }
    public func set() { mutex.withLock { value = true } }
}

/// Runs a command in its own process group, streaming its output line by line.
///
/// Stdout and stderr share one pipe; stdin is `/dev/null`. A timeout sends SIGTERM to the whole
/// group, then SIGKILL after 5 s; a cancellation (Ctrl-C) after 1 s. When the child ends, what
/// is left of its group and every process that inherited its token is killed (`ProcessReaper`).
enum ChildProcess {
    enum Ending: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
        case cancelled
    }

    static let maxLineBytes = 64 << 10

    static func run(_ argv: [String], in directory: URL, environment: [String: String], timeout: Double?,
                    cancel: CancellationFlag, onLine: (String) -> Void) throws -> Ending
    {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw SystemCallError(call: "pipe", path: argv.first ?? "", code: errno) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        fcntl(readEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, writeEnd)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaultSignals = sigset_t()
        sigemptyset(&defaultSignals)
        sigaddset(&defaultSignals, SIGINT)
        sigaddset(&defaultSignals, SIGTERM)
        sigaddset(&defaultSignals, SIGPIPE)
        posix_spawnattr_setsigdefault(&attributes, &defaultSignals)
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        // Change folder through the shell: glibc's addchdir is not visible to Swift.
        let argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory.path] + argv
        let token = ProcessReaper.newToken()
        var environment = environment
        environment[ProcessReaper.variable] = token
        let env = environment.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawnResult = withCStrings(argv) { cargv in
            withCStrings(env) { cenv in
                posix_spawnp(&pid, argv[0], &actions, &attributes, cargv, cenv)
            }
        }
        close(writeEnd)
        guard spawnResult == 0 else {
            close(readEnd)
            throw SystemCallError(call: "spawn", path: argv[0], code: spawnResult)
        }
        ProcessReaper.register(token, group: pid)

        let started = DispatchTime.now().uptimeNanoseconds
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var status: Int32 = 0
        var exited = false, eof = false
        var ending: Ending?
        var killDeadline: UInt64?
        var drainDeadline: UInt64?
        // Once its output is closed the child is usually exiting: look again soon, then less often.
        var exitCheck: useconds_t = 250

        /// Hands every complete line in `pending` to `onLine`; a line longer than the cap is cut.
        func flushLines(final: Bool) {
            var start = 0
            pending.withUnsafeBytes { raw in
                let base = raw.baseAddress!.assumingMemoryBound(to: UInt8.self)
                while start < raw.count,
                      let hit = memchr(base + start, 0x0A, raw.count - start)?.assumingMemoryBound(to: UInt8.self) {
                    let end = UnsafePointer(hit) - base
                    onLine(String(decoding: UnsafeBufferPointer(start: base + start, count: end - start), as: UTF8.self))
                    start = end + 1
                }
            }
            if start > 0 { pending.removeFirst(start) }
            if pending.count > maxLineBytes || (final && !pending.isEmpty) {
                onLine(String(decoding: pending, as: UTF8.self))
                pending.removeAll(keepingCapacity: true)
            }
        }

        while !(exited && (eof || (drainDeadline.map { DispatchTime.now().uptimeNanoseconds > $0 } ?? false))) {
            if !eof {
                var pfd = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
                let ready = poll(&pfd, 1, 100)
                if ready > 0 {
                    let n = buffer.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
                    if n > 0 {
                        pending.append(contentsOf: buffer[0..<n])
                        flushLines(final: false)
                    } else if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
                        eof = true
                    }
                }
            } else {
                usleep(exitCheck)
                exitCheck = min(exitCheck * 2, 20_000)
            }
            if !exited {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid {
                    exited = true
                    drainDeadline = DispatchTime.now().uptimeNanoseconds + 2_000_000_000
                }
            }
            let now = DispatchTime.now().uptimeNanoseconds
            if ending == nil, !exited {
                if cancel.isSet { ending = .cancelled }
                else if let timeout, Double(now - started) / 1e9 > timeout { ending = .timedOut }
                if ending != nil {
                    kill(-pid, SIGTERM)
                    killDeadline = now + (ending == .cancelled ? 1_000_000_000 : 5_000_000_000)
                }
            }
            if let deadline = killDeadline, now > deadline, !exited {
                kill(-pid, SIGKILL)
                killDeadline = nil
            }
        }
        close(readEnd)
        flushLines(final: true)
        // Leave no stragglers behind, in the group or out of it.
        do {
            try ProcessReaper.reap(token, group: pid)
        } catch {
            onLine("warning: \(error)")
        }
        if let ending { return ending }
        if (status & 0x7f) == 0 { return .exited((status >> 8) & 0xff) }
        return .signalled(status & 0x7f)
    }

    private static func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { pointers.forEach { free($0) } }
        return body(pointers)
    }
}
