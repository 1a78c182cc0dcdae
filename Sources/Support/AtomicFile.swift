import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The one way pipe replaces a file: write a temporary file beside it, fsync it, rename it into
/// place and fsync the folder, so a reader sees the old file or the whole new one, and the new
/// name survives a power loss. Every write retries on EINTR; failures name the path and the
/// system's reason.
public enum AtomicFile {
    /// Replaces `url` with what `body` writes to the open file descriptor it is handed.
    public static func write(to url: URL, _ body: (_ fd: Int32, _ path: String) throws -> Void) throws {
        let folder = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let temp = folder.appendingPathComponent(".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp")
        let fd = open(temp.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemCallError(call: "open", path: temp.path, code: errno) }
        do {
            try body(fd, temp.path)
            try SystemCall.run("fsync", temp.path) { fsync(fd) }
            close(fd)
            try SystemCall.run("rename", url.path) { rename(temp.path, url.path) }
            try syncFolder(folder)
        } catch {
            close(fd)
            unlink(temp.path)
            throw error
        }
    }

    /// Replaces `url` with `data`.
    public static func write(_ data: Data, to url: URL) throws {
        try write(to: url) { fd, path in try data.withUnsafeBytes { try writeAll(fd, $0, path: path) } }
    }

    /// Writes every byte of `bytes` to `fd`.
    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "write", path: path, code: errno)
            }
            offset += n
        }
    }

    /// Flushes a folder's entries (a rename into it) to disk.
    public static func syncFolder(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw SystemCallError(call: "open", path: url.path, code: errno) }
        defer { close(fd) }
        try SystemCall.run("fsync", url.path) { fsync(fd) }
    }

}

/// A system call retried when a signal interrupts it; any other failure throws with the path
/// and the reason.
public enum SystemCall {
    @discardableResult
    public static func run(_ name: String, _ path: String, _ body: () -> Int32) throws -> Int32 {
        while true {
            let result = body()
            if result >= 0 { return result }
            if errno == EINTR { continue }
            throw SystemCallError(call: name, path: path, code: errno)
        }
    }
}

/// A failed system call, with the path it concerned and the reason.
public struct SystemCallError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var path: String
    public var code: Int32
    public init(call: String, path: String, code: Int32) {
        self.call = call
        self.path = path
        self.code = code
    }
    public var description: String { "\(call) \(path): \(String(cString: strerror(code)))" }
}
