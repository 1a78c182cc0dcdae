import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A file mapped read-only into memory for as long as this object lives. GGUF weights are used
/// where they lie in the mapping, so a model costs its file's pages (shared with the page
/// cache), not a copy of them.
final class MappedFile: @unchecked Sendable {
    let path: String
    let base: UnsafeRawPointer
    let count: Int

    init(_ url: URL) throws {
        path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw InferenceError(.model, "\(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw InferenceError(.model, "\(path): \(String(cString: strerror(errno)))") }
        guard (status.st_mode & S_IFMT) == S_IFREG, status.st_size > 0 else {
            throw InferenceError(.model, "\(path): not a regular, non-empty file")
        }
        count = Int(status.st_size)
        // MAP_POPULATE reads the file in now, so the first request does not pay for page faults.
        let mapped = mmap(nil, count, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0)
        guard let mapped, mapped != UnsafeMutableRawPointer(bitPattern: -1) else {
            throw InferenceError(.model, "\(path): cannot map the file (\(String(cString: strerror(errno))))")
        }
        base = UnsafeRawPointer(mapped)
    }

    /// The bytes as `Data`, without copying; valid while this object lives.
    var data: Data { Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base), count: count, deallocator: .none) }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }
}
