import Foundation
import Support
#if canImport(Glibc)
import Glibc
#endif

/// File operations the cache relies on: atomic writes, chunked reads, tree removal. With
/// `FileStatus`, `FileLock`, `ChildProcess` and `ProcessReaper` beside it, this folder is the
/// engine's one layer over POSIX calls.
enum FileSystem {
    /// Retries a system call interrupted by a signal.
    @discardableResult
    static func call(_ name: String, _ path: String, _ body: () -> Int32) throws -> Int32 {
        try SystemCall.run(name, path, body)
    }

    /// Writes every byte of `bytes` to `fd`.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        try AtomicFile.writeAll(fd, bytes, path: path)
    }

    /// Replaces `url` with `data` atomically (`AtomicFile`: temp, fsync, rename, fsync of the folder).
    static func writeAtomically(_ data: Data, to url: URL) throws { try AtomicFile.write(data, to: url) }

    /// Writes `data` to `url` in place, without fsync (Foundation's `Data.write` fsyncs): for
    /// files that need not survive a crash, such as those of a run's scratch folder.
    static func writeUnsynced(_ data: Data, to url: URL) throws {
        let path = url.path
        let fd = try call("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
        defer { close(fd) }
        try data.withUnsafeBytes { try writeAll(fd, $0, path: path) }
    }

    /// A file error in plain words: "No space left on device" rather than Foundation's
    /// `NSCocoaErrorDomain Code=640 ... UserInfo={...}`.
    static func reason(_ error: Error) -> String {
        if let system = error as? SystemCallError { return String(cString: strerror(system.code)) }
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if ns.domain == NSCocoaErrorDomain {
            switch CocoaError.Code(rawValue: ns.code) {
            case .fileWriteOutOfSpace: return String(cString: strerror(ENOSPC))
            case .fileWriteNoPermission, .fileReadNoPermission: return String(cString: strerror(EACCES))
            case .fileNoSuchFile, .fileReadNoSuchFile: return String(cString: strerror(ENOENT))
            case .fileWriteVolumeReadOnly: return String(cString: strerror(EROFS))
            default: break
            }
        }
        return ns.localizedDescription
    }

    /// An error as a user should read it: Foundation's file errors become their reason and path
    /// ("no space left on device: /work/cache/tmp/..."); any other error describes itself.
    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        guard ns.domain == NSCocoaErrorDomain || ns.domain == NSPOSIXErrorDomain else { return "\(error)" }
        let path = (ns.userInfo[NSFilePathErrorKey] as? String) ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
        return reason(error).lowercased() + (path.map { ": " + $0 } ?? "")
    }

    /// A whole file's bytes (from byte `offset` on), or nil when it does not exist; any other
    /// failure is an error with the system's reason.
    static func readIfPresent(_ url: URL, from offset: Int = 0) throws -> Data? {
        let fd = open(url.path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemCallError(call: "open", path: url.path, code: errno)
        }
        defer { close(fd) }
        if offset > 0 { try call("lseek", url.path) { lseek(fd, off_t(offset), SEEK_SET) < 0 ? -1 : 0 } }
        var data = Data()
        try readChunks(fd: fd, path: url.path) { data.append(contentsOf: $0) }
        return data
    }

    /// Flushes a folder's entries (a rename into it) to disk.
    static func syncDirectory(_ url: URL) throws { try AtomicFile.syncFolder(url) }

    /// Reads a file in chunks of up to `chunkSize` bytes.
    static func readChunks(_ path: String, chunkSize: Int = 1 << 20,
                           _ body: (UnsafeRawBufferPointer) throws -> Void) throws
    {
        let fd = try call("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
        defer { close(fd) }
        try readChunks(fd: fd, path: path, chunkSize: chunkSize, body)
    }

    /// Reads an open file to its end in chunks of up to `chunkSize` bytes.
    static func readChunks(fd: Int32, path: String, chunkSize: Int = 1 << 20,
                           _ body: (UnsafeRawBufferPointer) throws -> Void) throws
    {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, chunkSize)
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemCallError(call: "read", path: path, code: errno)
            }
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    static func makeDirectory(_ url: URL) throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    /// Removes a tree, even one whose folders were made read-only.
    static func removeTree(_ url: URL) {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        if let walker = FileManager.default.enumerator(atPath: url.path) {
            chmod(url.path, 0o755)
            while let relative = walker.nextObject() as? String {
                let path = url.path + "/" + relative
                if FileStatus.probe(path, followLinks: false)?.kind == .directory { chmod(path, 0o755) }
            }
        }
        try? FileManager.default.removeItem(at: url)
    }

    /// The size of a file, or nil when it does not exist.
    static func size(_ path: String) -> Int64? { FileStatus.probe(path)?.size }

    /// Whether `path` is a regular file (symlinks followed).
    static func isRegularFile(_ path: String) -> Bool { FileStatus.probe(path)?.kind == .regular }

    /// Whether `path` is a folder.
    static func isDirectory(_ path: String, followingLinks: Bool = true) -> Bool {
        FileStatus.probe(path, followLinks: followingLinks)?.kind == .directory
    }

    /// Regular files under `folder`, relative and sorted; symlinks and special files are reported.
    static func regularFiles(in folder: URL) throws -> [String] {
        var result: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        while let relative = walker.nextObject() as? String {
            let path = folder.path + "/" + relative
            guard let status = try FileStatus.of(path, followLinks: false) else { continue }
            switch status.kind {
            case .regular: result.append(relative)
            case .directory: continue
            case .symbolicLink, .other: throw StoreError.unsupportedFile(path)
            }
        }
        return result.sorted()
    }
}
