import Foundation

/// The GGUF v3 container (llama.cpp's model format): a header, typed metadata key/values,
/// tensor descriptions, then the tensor data, each tensor aligned to `general.alignment` (32).
public enum GGUF {
    /// A metadata value.
    public enum Value: Equatable, Sendable {
        case uint32(UInt32)
        case int32(Int32)
        case float32(Float)
        case bool(Bool)
        case string(String)
        case uint64(UInt64)
        case strings([String])
        case int32s([Int32])

        public var string: String? { if case .string(let s) = self { return s } else { return nil } }
        public var int: Int? {
            switch self {
            case .uint32(let v): return Int(v)
            case .int32(let v): return Int(v)
            case .uint64(let v): return Int(v)
            default: return nil
            }
        }
        public var float: Double? { if case .float32(let f) = self { return Double(f) } else { return nil } }
        public var strings: [String]? { if case .strings(let s) = self { return s } else { return nil } }
    }

    /// A tensor as stored: name, shape in ggml order (`ne[0]` = the contiguous dimension), type, bytes.
    public struct Tensor: Sendable {
        public var name: String
        /// [columns, rows] for a matrix, [n] for a vector.
        public var dimensions: [Int]
        public var type: GGMLType
        public var data: [UInt8]

        public init(name: String, dimensions: [Int], type: GGMLType, data: [UInt8]) {
            self.name = name
            self.dimensions = dimensions
            self.type = type
            self.data = data
        }

        public var count: Int { dimensions.reduce(1, *) }

        /// The elements as Floats.
        public func floats() -> [Float] {
            var out = [Float](repeating: 0, count: count)
            data.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { type.decode(raw, count: count, into: $0.baseAddress!) } }
            return out
        }
    }

    static let alignment = 32

    /// Writes metadata (in the order given) and tensors to `url`.
    public static func write(metadata: [(String, Value)], tensors: [Tensor], to url: URL) throws {
        var out = Data()
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        func string(_ s: String) { u64(UInt64(s.utf8.count)); out.append(contentsOf: Array(s.utf8)) }
        out.append(contentsOf: Array("GGUF".utf8))
        u32(3)
        u64(UInt64(tensors.count))
        u64(UInt64(metadata.count))
        for (key, value) in metadata {
            string(key)
            switch value {
            case .uint32(let v): u32(4); u32(v)
            case .int32(let v): u32(5); u32(UInt32(bitPattern: v))
            case .float32(let v): u32(6); u32(v.bitPattern)
            case .bool(let v): u32(7); out.append(v ? 1 : 0)
            case .string(let v): u32(8); string(v)
            case .uint64(let v): u32(10); u64(v)
            case .strings(let list): u32(9); u32(8); u64(UInt64(list.count)); list.forEach(string)
            case .int32s(let list): u32(9); u32(5); u64(UInt64(list.count)); list.forEach { u32(UInt32(bitPattern: $0)) }
            }
        }
        var offset = 0
        for t in tensors {
            precondition(t.data.count == t.type.bytes(for: t.count), "\(t.name): data size does not match its type and shape")
            string(t.name)
            u32(UInt32(t.dimensions.count))
            t.dimensions.forEach { u64(UInt64($0)) }
            u32(t.type.rawValue)
            u64(UInt64(offset))
            offset += (t.data.count + alignment - 1) / alignment * alignment
        }
        out.append(contentsOf: [UInt8](repeating: 0, count: (alignment - out.count % alignment) % alignment))
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw TransformerError("cannot create \(url.path)") }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        try handle.write(contentsOf: out)
        for t in tensors {
            try handle.write(contentsOf: t.data)
            try handle.write(contentsOf: Data(count: (alignment - t.data.count % alignment) % alignment))
        }
    }

    /// A parsed file: metadata by key and tensors by name.
    public struct File: Sendable {
        public var metadata: [String: Value]
        public var tensors: [String: Tensor]
    }

    /// Reads a GGUF v3 file (the value types pipe writes, plus any other scalar or array, skipped).
    public static func read(_ url: URL) throws -> File {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        var reader = Reader(data: data, path: url.path)
        guard try reader.bytes(4) == Array("GGUF".utf8) else { throw reader.fail("not a GGUF file") }
        let version = try reader.u32()
        guard version == 3 || version == 2 else { throw reader.fail("GGUF version \(version); pipe reads versions 2 and 3") }
        let tensorCount = try reader.u64(), keyCount = try reader.u64()
        var metadata: [String: Value] = [:]
        for _ in 0..<keyCount {
            let key = try reader.string()
            if let value = try reader.value(type: try reader.u32()) { metadata[key] = value }
        }
        var infos: [(String, [Int], GGMLType, Int)] = []
        for _ in 0..<tensorCount {
            let name = try reader.string()
            let dims = try (0..<Int(try reader.u32())).map { _ in Int(try reader.u64()) }
            let raw = try reader.u32()
            guard let type = GGMLType(rawValue: raw) else { throw reader.fail("tensor \(name) has ggml type \(raw); pipe reads f32, f16, q8_0 and q4_0") }
            infos.append((name, dims, type, Int(try reader.u64())))
        }
        let align = metadata["general.alignment"]?.int ?? alignment
        let start = (reader.position + align - 1) / align * align
        var tensors: [String: Tensor] = [:]
        for (name, dims, type, offset) in infos {
            let count = dims.reduce(1, *), size = type.bytes(for: count)
            guard start + offset + size <= data.count else { throw reader.fail("tensor \(name) runs past the end of the file") }
            tensors[name] = Tensor(name: name, dimensions: dims, type: type, data: [UInt8](data[start + offset..<start + offset + size]))
        }
        return File(metadata: metadata, tensors: tensors)
    }

    /// Sequential little-endian reads with errors naming the file and offset.
    private struct Reader {
        let data: Data
        let path: String
        var position = 0

        func fail(_ why: String) -> TransformerError { TransformerError("\(path): \(why) (at byte \(position))") }

        mutating func bytes(_ n: Int) throws -> [UInt8] {
            guard n >= 0, position + n <= data.count else { throw fail("unexpected end of file") }
            defer { position += n }
            return [UInt8](data[position..<position + n])
        }

        mutating func u32() throws -> UInt32 { try bytes(4).withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self)) } }
        mutating func u64() throws -> UInt64 { try bytes(8).withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) } }
        mutating func string() throws -> String {
            let n = try u64()
            guard n < 1 << 30 else { throw fail("string of \(n) bytes") }
            return String(decoding: try bytes(Int(n)), as: UTF8.self)
        }

        /// The value of a metadata type; nil for types pipe has no use for (read and skipped).
        mutating func value(type: UInt32) throws -> Value? {
            switch type {
            case 0, 1: _ = try bytes(1); return nil
            case 2, 3: _ = try bytes(2); return nil
            case 4: return .uint32(try u32())
            case 5: return .int32(Int32(bitPattern: try u32()))
            case 6: return .float32(Float(bitPattern: try u32()))
            case 7: return .bool(try bytes(1)[0] != 0)
            case 8: return .string(try string())
            case 10: return .uint64(try u64())
            case 11: _ = try bytes(8); return nil
            case 12: _ = try bytes(8); return nil
            case 9:
                let element = try u32(), count = Int(try u64())
                if element == 8 { return .strings(try (0..<count).map { _ in try string() }) }
                if element == 5 { return .int32s(try (0..<count).map { _ in Int32(bitPattern: try u32()) }) }
                for _ in 0..<count { _ = try value(type: element) }
                return nil
            default: throw fail("unknown metadata type \(type)")
            }
        }
    }
}
