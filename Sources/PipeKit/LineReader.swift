import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file's lines through a fixed-size buffer: each byte is looked at once, a line longer
/// than the cap is an error naming the file and line (never a reason to grow without bound).
public enum LineReader {
    /// Calls `body` with each line's bytes (without its `\n`) and its 1-based number.
    public static func forEachLine(of file: URL, maxLineBytes: Int, chunkBytes: Int = 1 << 20,
                                   _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws
    {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StageError("cannot open \(file.path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var pending: [UInt8] = []   // the start of a line that continues in the next chunk
        var lineNumber = 1
        let chunk = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: chunkBytes)
        defer { chunk.deallocate() }
        func tooLong() -> StageError {
            StageError("\(file.lastPathComponent):\(lineNumber): line longer than \(maxLineBytes) bytes")
        }
        while true {
            let n = read(fd, chunk.baseAddress, chunkBytes)
            if n < 0 {
                if errno == EINTR { continue }
                throw StageError("cannot read \(file.path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            var start = 0
            while start < n {
                guard let found = memchr(chunk.baseAddress! + start, 0x0A, n - start) else {
                    guard pending.count + (n - start) <= maxLineBytes else { throw tooLong() }
                    pending.append(contentsOf: UnsafeBufferPointer(rebasing: chunk[start..<n]))
                    break
                }
                let end = UnsafeRawPointer(found) - UnsafeRawPointer(chunk.baseAddress!)
                let piece = UnsafeBufferPointer(rebasing: chunk[start..<end])
                guard pending.count + piece.count <= maxLineBytes else { throw tooLong() }
                if pending.isEmpty {
                    try body(piece, lineNumber)
                } else {
                    pending.append(contentsOf: piece)
                    try pending.withUnsafeBufferPointer { try body($0, lineNumber) }
                    pending.removeAll(keepingCapacity: true)
                }
                lineNumber += 1
                start = end + 1
            }
        }
        if !pending.isEmpty { try pending.withUnsafeBufferPointer { try body($0, lineNumber) } }
    }
}
