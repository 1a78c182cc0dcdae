import CZstd
import Foundation

/// Errors from the zstd library, with its own message.
public struct ZstdError: Error, CustomStringConvertible {
    public var description: String
    init(_ code: Int) { description = "zstd: " + String(cString: ZSTD_getErrorName(code)) }
}

/// Streaming zstd compression into a file descriptor.
final class ZstdCompressor {
    private let context: OpaquePointer
    private var output: [UInt8]

    init(level: Int32) {
        context = ZSTD_createCCtx()
        ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 0)
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
    }

    deinit { ZSTD_freeCCtx(context) }

    /// Compresses `input` (or finishes the frame when `end`), handing each compressed block to `sink`.
    func compress(_ input: UnsafeRawBufferPointer, end: Bool, sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let mode = end ? ZSTD_e_end : ZSTD_e_continue
        while true {
            let (remaining, produced): (Int, Int) = output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_compressStream2(context, &outBuffer, &inBuffer, mode)
                return (r, outBuffer.pos)
            }
            if ZSTD_isError(remaining) != 0 { throw ZstdError(remaining) }
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            let finished = end ? remaining == 0 : inBuffer.pos == inBuffer.size
            if finished { return }
        }
    }
}

/// Streaming zstd decompression.
final class ZstdDecompressor {
    private let context: OpaquePointer
    private var output: [UInt8]

    init() {
        context = ZSTD_createDCtx()
        output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Feeds compressed bytes; each decompressed block goes to `sink`. Returns whether a frame just ended.
    @discardableResult
    func decompress(_ input: UnsafeRawBufferPointer, sink: (UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        var frameDone = false
        while true {
            let (hint, produced): (Int, Int) = output.withUnsafeMutableBytes { out in
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: out.count, pos: 0)
                let r = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                return (r, outBuffer.pos)
            }
            if ZSTD_isError(hint) != 0 { throw ZstdError(hint) }
            if produced > 0 { try output.withUnsafeBytes { try sink(UnsafeRawBufferPointer(rebasing: $0[0..<produced])) } }
            // 0 means a frame ended and was fully flushed; calling again would start a new frame.
            frameDone = hint == 0
            if frameDone && inBuffer.pos == inBuffer.size { break }
            // A full output buffer may hide more output; otherwise stop once the input is used up.
            if produced < output.count && inBuffer.pos == inBuffer.size { break }
        }
        return frameDone
    }
}
