import CXXHash
import Foundation

/// A 128-bit XXH3 digest, printed as 32 lowercase hex digits (the canonical big-endian form).
public struct Digest128: Hashable, Sendable, CustomStringConvertible {
    public let high: UInt64
    public let low: UInt64

    public var description: String { hex }
    public var hex: String {
        let h = String(high, radix: 16), l = String(low, radix: 16)
        return String(repeating: "0", count: 16 - h.count) + h + String(repeating: "0", count: 16 - l.count) + l
    }
}

/// Streaming XXH3-128.
public final class Hasher128 {
    private let state: OpaquePointer

    public init() {
        state = XXH3_createState()
        XXH3_128bits_reset(state)
    }

    deinit { XXH3_freeState(state) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        XXH3_128bits_update(state, base, bytes.count)
    }

    public func update(_ data: Data) { data.withUnsafeBytes { update($0) } }
    public func update(_ string: String) {
        var s = string
        s.withUTF8 { update(UnsafeRawBufferPointer($0)) }
    }

    public func finalize() -> Digest128 {
        let d = XXH3_128bits_digest(state)
        return Digest128(high: d.high64, low: d.low64)
    }

    /// The digest of one buffer.
    public static func hash(_ bytes: UnsafeRawBufferPointer) -> Digest128 {
        let d = XXH3_128bits(bytes.baseAddress, bytes.count)
        return Digest128(high: d.high64, low: d.low64)
    }

    public static func hash(_ data: Data) -> Digest128 { data.withUnsafeBytes { hash($0) } }
    public static func hash(_ string: String) -> Digest128 {
        var s = string
        return s.withUTF8 { hash(UnsafeRawBufferPointer($0)) }
    }
}
