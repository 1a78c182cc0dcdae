import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// An advisory `flock` on a file; the kernel releases it when the process dies.
final class FileLock: @unchecked Sendable {
    private let fd: Int32
    let path: String

    init(path: String) throws {
        self.path = path
        try FileSystem.makeDirectory(URL(fileURLWithPath: path).deletingLastPathComponent())
        fd = try FileSystem.call("open", path) { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644) }
    }

    deinit { close(fd) }

    /// Blocks until the lock is held; a lock the system refuses is an error, never skipped.
    func lock() throws {
        try FileSystem.call("flock", path) { flock(fd, LOCK_EX) }
    }

    func tryLock() -> Bool { flock(fd, LOCK_EX | LOCK_NB) == 0 }

    func unlock() { flock(fd, LOCK_UN) }
}
