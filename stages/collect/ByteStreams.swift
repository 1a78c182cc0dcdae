import CZlib
import CZstd
import Foundation
import PipeKit

/// A source of bytes read in chunks: a file, optionally through gzip or zstd.
protocol ByteStream {
    /// Appends up to about `limit` bytes to `buffer`; returns how many, 0 at the end.
    mutating func read(into buffer: inout [UInt8], limit: Int) throws -> Int
}

/// Damage found while reading a file: a compressed stream that is truncated or does not decode,
/// or a WARC file that breaks the format. `on_corrupt` decides whether it fails the run.
struct CorruptInput: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Opens `url`, decompressing `.gz` and `.zst` transparently.
func openStream(_ url: URL) throws -> any ByteStream {
    let file = try FileStream(url)
    switch url.pathExtension.lowercased() {
    case "gz", "gzip": return GzipStream(file)
    case "zst", "zstd": return ZstdStream(file)
    default: return file
    }
}

/// Plain file reads, of regular files only: a FIFO or device swapped in after the folder was
/// listed is refused rather than waited on.
final class FileStream: ByteStream {
    private let handle: FileHandle
    let path: String

    init(_ url: URL) throws {
        path = url.path
        // Non-blocking, so opening a FIFO returns at once; reads block as usual afterwards.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw StageError("cannot read \(path): \(String(cString: strerror(errno)))") }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw StageError("cannot read \(path): not a regular file")
        }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }

    func read(into buffer: inout [UInt8], limit: Int) throws -> Int {
        guard let data = try handle.read(upToCount: limit), !data.isEmpty else { return 0 }
        buffer.append(contentsOf: data)
        return data.count
    }
}

/// The compressed side of a decompressing stream: bytes read from the file and how many of
/// them the decompressor has consumed.
struct PendingInput {
    let file: FileStream
    var bytes: [UInt8] = []
    var offset = 0
    /// Whether the decompressor's last call filled its output: it may hold more without new input.
    var outputPending = false

    /// Whether the decompressor should be called again: unconsumed input is buffered (read
    /// from the file when needed), or output is still pending.
    mutating func available() throws -> Bool {
        if offset < bytes.count || outputPending { return true }
        bytes.removeAll(keepingCapacity: true)
        offset = 0
        return try file.read(into: &bytes, limit: 1 << 20) > 0
    }
}

/// gzip through zlib, including files of several concatenated members (as WARC.gz files are).
/// A file that ends inside a member is truncated: an error, never a shorter text.
final class GzipStream: ByteStream {
    private var input: PendingInput
    private var stream = z_stream()
    /// Whether a member has begun and not yet ended.
    private var inMember = false

    init(_ file: FileStream) {
        input = PendingInput(file: file)
        inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
    }

    deinit { inflateEnd(&stream) }

    func read(into buffer: inout [UInt8], limit: Int) throws -> Int {
        var output = [UInt8](repeating: 0, count: max(limit, 1 << 16))
        var produced = 0
        while produced == 0, try input.available() {
            let offset = input.offset
            let (consumed, made, status): (Int, Int, Int32) = input.bytes.withUnsafeMutableBufferPointer { inp in
                output.withUnsafeMutableBufferPointer { out in
                    stream.next_in = inp.baseAddress.map { $0 + offset }
                    stream.avail_in = UInt32(inp.count - offset)
                    stream.next_out = out.baseAddress
                    stream.avail_out = UInt32(out.count)
                    let s = inflate(&stream, Z_NO_FLUSH)
                    return (inp.count - offset - Int(stream.avail_in), out.count - Int(stream.avail_out), s)
                }
            }
            input.offset += consumed
            input.outputPending = made == output.count
            produced = made
            inMember = inMember || consumed > 0 || made > 0
            if status == Z_STREAM_END {
                inMember = false
                inflateReset(&stream)  // another member may follow
            } else if status != Z_OK && status != Z_BUF_ERROR {
                throw CorruptInput("\(input.file.path): not valid gzip (zlib error \(status))")
            }
        }
        if produced == 0 && inMember { throw CorruptInput("\(input.file.path): truncated gzip stream (the file ends inside a member)") }
        buffer.append(contentsOf: output[0..<produced])
        return produced
    }
}

/// zstd streaming decompression. A file that ends inside a frame is truncated: an error.
final class ZstdStream: ByteStream {
    private var input: PendingInput
    private let context: OpaquePointer
    /// Whether a frame has begun and not yet been decoded and flushed completely.
    private var inFrame = false

    init(_ file: FileStream) {
        input = PendingInput(file: file)
        context = ZSTD_createDCtx()
    }

    deinit { ZSTD_freeDCtx(context) }

    func read(into buffer: inout [UInt8], limit: Int) throws -> Int {
        var output = [UInt8](repeating: 0, count: max(limit, ZSTD_DStreamOutSize()))
        var produced = 0
        while produced == 0, try input.available() {
            let offset = input.offset
            let (consumed, made, code): (Int, Int, Int) = input.bytes.withUnsafeBufferPointer { inp in
                output.withUnsafeMutableBufferPointer { out in
                    var inBuffer = ZSTD_inBuffer(src: inp.baseAddress.map { UnsafeRawPointer($0 + offset) }, size: inp.count - offset, pos: 0)
                    var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                    let r = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                    return (inBuffer.pos, outBuffer.pos, r)
                }
            }
            if ZSTD_isError(code) != 0 {
                throw CorruptInput("\(input.file.path): not valid zstd (\(String(cString: ZSTD_getErrorName(code))))")
            }
            input.offset += consumed
            input.outputPending = made == output.count
            produced = made
            inFrame = code != 0  // 0: a frame ended and is flushed
        }
        if produced == 0 && inFrame { throw CorruptInput("\(input.file.path): truncated zstd stream (the file ends inside a frame)") }
        buffer.append(contentsOf: output[0..<produced])
        return produced
    }
}

/// A byte stream read through one buffer as lines and runs of bytes, each kept only up to a
/// cap. Time is linear in the stream's length: a long line is searched once, and its bytes are
/// not copied again as more chunks arrive; a line over the cap is read past, not kept.
struct BufferedReader {
    /// What `line` found.
    enum Line: Equatable {
        /// The line was passed to the body.
        case line
        /// The line was longer than the limit: read past, not kept.
        case oversized(bytes: Int)
    }

    private var stream: any ByteStream
    private var buffer: [UInt8] = []
    /// The first unread byte in `buffer`.
    private var start = 0
    /// Bytes of the stream already removed from the buffer's front.
    private var dropped = 0
    private var ended = false

    init(_ stream: any ByteStream) { self.stream = stream }

    /// Offset in the stream of the next unread byte.
    var position: Int { dropped + start }

    /// Moves the unread bytes to the buffer's front and appends a chunk; false at the end.
    private mutating func refill() throws -> Bool {
        guard !ended else { return false }
        if start > 0 {
            buffer.removeSubrange(..<start)
            dropped += start
            start = 0
        }
        if try stream.read(into: &buffer, limit: 1 << 20) == 0 { ended = true }
        return !ended
    }

    /// Passes the next line (without its `\n`) to `body` when it has at most `limit` bytes;
    /// a longer one is read past and only its length reported. Nil at the end of the stream.
    mutating func line(limit: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Line? {
        var searched = 0  // bytes after `start` known to hold no newline
        var skipped = 0  // bytes of this line already dropped for being over the limit
        while true {
            if let newline = newline(from: start + searched) {
                return try deliver(upTo: newline, after: skipped, limit: limit, resumeAt: newline + 1, body)
            }
            searched = buffer.count - start
            if skipped + searched > limit {
                skipped += searched
                dropped += buffer.count
                buffer.removeAll(keepingCapacity: true)
                start = 0
                searched = 0
            }
            if try !refill() {
                guard skipped > 0 || start < buffer.count else { return nil }
                return try deliver(upTo: buffer.count, after: skipped, limit: limit, resumeAt: buffer.count, body)
            }
        }
    }

    /// The index of the first `\n` in the buffer at or after `index`.
    private func newline(from index: Int) -> Int? {
        buffer.withUnsafeBufferPointer { bytes in
            guard index < bytes.count, let base = bytes.baseAddress,
                  let found = memchr(base + index, 0x0A, bytes.count - index) else { return nil }
            return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Ends a line at `end` (with `skipped` bytes before `start` already dropped) and continues at `next`.
    private mutating func deliver(upTo end: Int, after skipped: Int, limit: Int, resumeAt next: Int,
                                  _ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Line {
        defer { start = next }
        let length = skipped + end - start
        guard length <= limit else { return .oversized(bytes: length) }
        try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<end])) }
        return .line
    }

    /// The next `count` bytes, or nil when the stream ends first.
    mutating func bytes(_ count: Int) throws -> [UInt8]? {
        while buffer.count - start < count {
            guard try refill() else { return nil }
        }
        defer { start += count }
        return Array(buffer[start..<(start + count)])
    }

    /// Reads past the next `count` bytes without keeping them; false when the stream ends first.
    mutating func skip(_ count: Int) throws -> Bool {
        var left = count
        while true {
            let here = min(left, buffer.count - start)
            start += here
            left -= here
            if left == 0 { return true }
            guard try refill() else { return false }
        }
    }
}
