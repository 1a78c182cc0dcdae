/// GGML tensor types pipe reads and writes, with their block layouts (as in ggml's
/// `quantize_row_*_ref`): Q8_0 = fp16 scale + 32 int8; Q4_0 = fp16 scale + 16 bytes holding
/// element j in the low nibble and element j + 16 in the high nibble, offset by 8.
public enum GGMLType: UInt32, Sendable, CaseIterable {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q8_0 = 8

    public init?(name: String) {
        switch name.lowercased() {
        case "f32": self = .f32
        case "f16": self = .f16
        case "q4_0": self = .q4_0
        case "q8_0": self = .q8_0
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q8_0: return "q8_0"
        }
    }

    /// Elements per block and bytes per block.
    public var blockSize: Int { self == .f32 || self == .f16 ? 1 : 32 }
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16: return 2
        case .q4_0: return 18
        case .q8_0: return 34
        }
    }

    /// Bytes for `count` elements (a multiple of the block size).
    public func bytes(for count: Int) -> Int { count / blockSize * blockBytes }

    /// `general.file_type` of a file whose large tensors are of this type.
    public var fileType: UInt32 {
        switch self {
        case .f32: return 0
        case .f16: return 1
        case .q4_0: return 2
        case .q8_0: return 7
        }
    }

    /// Encodes floats (count a multiple of the block size) into this type's bytes.
    public func encode(_ values: UnsafeBufferPointer<Float>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: bytes(for: values.count))
        out.withUnsafeMutableBytes { raw in
            switch self {
            case .f32:
                for (i, v) in values.enumerated() { raw.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
            case .f16:
                for (i, v) in values.enumerated() { raw.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
            case .q8_0:
                for block in 0..<values.count / 32 {
                    let x = values[block * 32..<block * 32 + 32]
                    let amax = x.reduce(Float(0)) { max($0, abs($1)) }
                    let d = amax / 127, id: Float = d != 0 ? 1 / d : 0
                    let base = block * 34
                    raw.storeBytes(of: Float16(d).bitPattern.littleEndian, toByteOffset: base, as: UInt16.self)
                    for (j, v) in x.enumerated() { raw.storeBytes(of: Int8((v * id).rounded()), toByteOffset: base + 2 + j, as: Int8.self) }
                }
            case .q4_0:
                for block in 0..<values.count / 32 {
                    let x = Array(values[block * 32..<block * 32 + 32])
                    var amax: Float = 0, signedMax: Float = 0
                    for v in x where abs(v) > amax { amax = abs(v); signedMax = v }
                    let d = signedMax / -8, id: Float = d != 0 ? 1 / d : 0
                    let base = block * 18
                    raw.storeBytes(of: Float16(d).bitPattern.littleEndian, toByteOffset: base, as: UInt16.self)
                    for j in 0..<16 {
                        let low = UInt8(min(15, Int8(truncatingIfNeeded: Int(x[j] * id + 8.5))))
                        let high = UInt8(min(15, Int8(truncatingIfNeeded: Int(x[j + 16] * id + 8.5))))
                        raw.storeBytes(of: low | high << 4, toByteOffset: base + 2 + j, as: UInt8.self)
                    }
                }
            }
        }
        return out
    }

    /// Decodes `count` elements of this type from `bytes` into `out`.
    public func decode(_ bytes: UnsafeRawBufferPointer, count: Int, into out: UnsafeMutablePointer<Float>) {
        switch self {
        case .f32:
            for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .q8_0:
            for block in 0..<count / 32 {
                let base = block * 34
                let d = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: base, as: UInt16.self))))
                for j in 0..<32 { out[block * 32 + j] = d * Float(bytes.load(fromByteOffset: base + 2 + j, as: Int8.self)) }
            }
        case .q4_0:
            for block in 0..<count / 32 {
                let base = block * 18
                let d = Float(Float16(bitPattern: UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: base, as: UInt16.self))))
                for j in 0..<16 {
                    let q = bytes[base + 2 + j]
                    out[block * 32 + j] = d * Float(Int(q & 0x0F) - 8)
                    out[block * 32 + j + 16] = d * Float(Int(q >> 4) - 8)
                }
            }
        }
    }
}
