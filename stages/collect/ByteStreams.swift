import CZlib
import CZstd
import Foundation
import PipeKit

/// A source of bytes read in chunks: a file, optionally through gzip or zstd.
protocol ByteStream {
    /// Appends up to about `limit` bytes to `buffer`; returns how many, 0 at the end.
    mutating func read(into buffer: inout [UInt8], limit: Int) throws -> Int
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

/// Plain file reads.
final class FileStream: ByteStream {
    private let handle: FileHandle
    let path: String

    init(_ url: URL) throws {
        path = url.path
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw StageError("cannot read \(url.path): \(error.localizedDescription)")
        }
    }

    deinit { try? handle.close() }

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
final class GzipStream: ByteStream {
    private var input: PendingInput
    private var stream = z_stream()

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
            if status == Z_STREAM_END {
                inflateReset(&stream)  // another member may follow
            } else if status != Z_OK && status != Z_BUF_ERROR {
                throw StageError("\(input.file.path): not valid gzip (zlib error \(status))")
            }
        }
        buffer.append(contentsOf: output[0..<produced])
        return produced
    }
}

/// zstd streaming decompression.
final class ZstdStream: ByteStream {
    private var input: PendingInput
    private let context: OpaquePointer

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
                throw StageError("\(input.file.path): not valid zstd (\(String(cString: ZSTD_getErrorName(code))))")
            }
            input.offset += consumed
            input.outputPending = made == output.count
            produced = made
        }
        buffer.append(contentsOf: output[0..<produced])
        return produced
    }
}

/// Splits a byte stream into lines (without their `\n`), in chunks, never holding a whole file.
struct LineReader {
    private var stream: any ByteStream
    private var buffer: [UInt8] = []
    private var start = 0
    private var done = false
    /// Byte offset (in the decompressed stream) of the line last returned.
    private(set) var offset = 0
    private var consumed = 0

    init(_ stream: any ByteStream) { self.stream = stream }

    /// Calls `body` with the next line, or returns false at the end.
    mutating func next(_ body: (UnsafeBufferPointer<UInt8>) throws -> Void) throws -> Bool {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                offset = consumed
                try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start..<newline])) }
                consumed += newline + 1 - start
                start = newline + 1
                return true
            }
            if done {
                guard start < buffer.count else { return false }
                offset = consumed
                try buffer.withUnsafeBufferPointer { try body(UnsafeBufferPointer(rebasing: $0[start...])) }
                consumed += buffer.count - start
                start = buffer.count
                return true
            }
            if start > 0 {
                buffer.removeFirst(start)
                start = 0
            }
            if try stream.read(into: &buffer, limit: 1 << 20) == 0 { done = true }
        }
    }
}
