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
        /// The value as an Int, or nil when it is not an integer or does not fit.
        public var int: Int? {
            switch self {
            case .uint32(let v): return Int(v)
            case .int32(let v): return Int(v)
            case .uint64(let v): return Int(exactly: v)
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

    /// What a GGUF file may claim before pipe refuses it (see docs/ARCHITECTURE.md, "Hostile
    /// model files"). Every count is also bounded by the bytes left in the file.
    public enum Limits {
        /// Dimensions of one tensor (ggml's GGML_MAX_DIMS).
        public static let dimensions = 4
        /// Bytes of a metadata key or a tensor name (the spec's limit for keys).
        public static let nameBytes = 65_535
        /// Arrays inside arrays inside … metadata arrays.
        public static let arrayDepth = 8
        /// `general.alignment`: a power of two at most this.
        public static let alignment = 1 << 20
    }

    /// Reads a GGUF v2 or v3 file (the value types pipe writes, plus any other scalar or array, skipped).
    public static func read(_ url: URL) throws -> File {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        let index = try index(of: data, path: url.path)
        return File(metadata: index.metadata, tensors: index.tensors.mapValues { t in
            Tensor(name: t.name, dimensions: t.dimensions, type: t.type, data: [UInt8](data[t.bytes]))
        })
    }

    /// Where a tensor's bytes lie in the file, checked: aligned, inside the file, overlapping no other.
    public struct TensorPlacement: Sendable {
        public var name: String
        public var dimensions: [Int]
        public var type: GGMLType
        /// Byte offsets from the start of the file.
        public var bytes: Range<Int>
    }

    /// A file's metadata and where each tensor lies, without copying any tensor: what a reader
    /// that maps the file into memory uses.
    public struct Index: Sendable {
        public var metadata: [String: Value]
        public var tensors: [String: TensorPlacement]
    }

    /// Parses and checks a GGUF file's header, metadata and tensor placements in `data`.
    public static func index(of data: Data, path: String) throws -> Index {
        var reader = CheckedReader(data, path: path)
        guard try reader.bytes(4, "the magic number") == Array("GGUF".utf8) else { throw reader.fail("not a GGUF file") }
        let version = try reader.u32("the version")
        guard version == 3 || version == 2 else { throw reader.fail("GGUF version \(version); pipe reads versions 2 and 3") }
        // A tensor description takes at least 24 bytes (name length, dimension count, type,
        // offset), a key/value at least 13 (key length, type, one byte).
        let tensorCount = try reader.count("the tensor count", itemBytes: 24)
        let keyCount = try reader.count("the metadata key count", itemBytes: 13)
        var metadata: [String: Value] = [:], keys = Set<String>()
        for _ in 0..<keyCount {
            let key = try reader.ggufString("a metadata key", limit: Limits.nameBytes)
            guard keys.insert(key).inserted else { throw reader.fail("metadata key \(key) appears twice") }
            if let value = try reader.value(type: try reader.u32("the type of \(key)"), key: key, depth: 0) { metadata[key] = value }
        }
        var infos: [TensorInfo] = []
        for _ in 0..<tensorCount { infos.append(try reader.tensorInfo()) }
        let align = try alignment(metadata, reader)
        let start = (reader.position + align - 1) / align * align
        return Index(metadata: metadata, tensors: try placements(infos, dataStart: start, align: align, reader))
    }

    /// `general.alignment`, or 32 when absent.
    private static func alignment(_ metadata: [String: Value], _ reader: CheckedReader) throws -> Int {
        guard let value = metadata["general.alignment"] else { return alignment }
        guard let align = value.int, align > 0, align <= Limits.alignment, align & (align - 1) == 0 else {
            throw reader.fail("general.alignment is \(value), not a power of two from 1 to \(Limits.alignment)")
        }
        return align
    }

    /// A tensor description, checked on its own; placement is checked once the data section is known.
    fileprivate struct TensorInfo {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        var offset: Int
        var bytes: Int
    }

    /// The tensors' byte ranges, each aligned, inside the file and overlapping no other.
    private static func placements(_ infos: [TensorInfo], dataStart: Int, align: Int, _ reader: CheckedReader) throws
        -> [String: TensorPlacement]
    {
        let data = reader.data
        var tensors: [String: TensorPlacement] = [:]
        var end = 0, previous = ""
        for info in infos.sorted(by: { $0.offset < $1.offset }) {
            guard info.offset % align == 0 else { throw reader.fail("tensor '\(info.name)' has offset \(info.offset), not a multiple of the alignment \(align)") }
            guard info.offset >= end else { throw reader.fail("tensor '\(info.name)' at offset \(info.offset) overlaps tensor '\(previous)', which ends at \(end)") }
            guard dataStart + info.offset + info.bytes <= data.count else {
                throw reader.fail("tensor '\(info.name)' (\(info.bytes) bytes at offset \(info.offset)) runs past the end of the file")
            }
            guard tensors[info.name] == nil else { throw reader.fail("tensor '\(info.name)' appears twice") }
            let begin = dataStart + info.offset
            tensors[info.name] = TensorPlacement(name: info.name, dimensions: info.dimensions, type: info.type,
                                                 bytes: begin..<begin + info.bytes)
            end = info.offset + info.bytes
            previous = info.name
        }
        return tensors
    }
}

/// GGUF's strings, values and tensor descriptions over a checked reader.
extension CheckedReader {
    /// A length-prefixed string, at most `limit` bytes.
    fileprivate mutating func ggufString(_ field: @autoclosure () -> String, limit: Int? = nil) throws -> String {
        let n = try count("the length of \(field())", itemBytes: 1, limit: limit)
        return String(decoding: try bytes(n, field()), as: UTF8.self)
    }

    /// Bytes of a fixed-size metadata type, nil for strings, arrays and unknown types.
    private static func fixedSize(_ type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        default: return nil
        }
    }

    /// The value of a metadata type; nil for types pipe has no use for (read and skipped).
    fileprivate mutating func value(type: UInt32, key: String, depth: Int) throws -> GGUF.Value? {
        switch type {
        case 4: return .uint32(try u32(key))
        case 5: return .int32(Int32(bitPattern: try u32(key)))
        case 6: return .float32(Float(bitPattern: try u32(key)))
        case 7: return .bool(try bytes(1, key)[0] != 0)
        case 8: return .string(try ggufString(key))
        case 10: return .uint64(try u64(key))
        case 9: return try array(key: key, depth: depth + 1)
        default:
            guard let size = Self.fixedSize(type) else { throw fail("metadata \(key) has unknown type \(type)") }
            try skip(size, key)
            return nil
        }
    }

    /// An array value: strings and int32s are kept, anything else is skipped.
    private mutating func array(key: String, depth: Int) throws -> GGUF.Value? {
        guard depth <= GGUF.Limits.arrayDepth else { throw fail("metadata \(key) nests arrays deeper than \(GGUF.Limits.arrayDepth) levels") }
        let element = try u32("the element type of \(key)")
        // A string takes at least its 8-byte length, an array its type and count.
        let itemBytes = Self.fixedSize(element) ?? (element == 8 ? 8 : element == 9 ? 12 : 1)
        let count = try count("the length of array \(key)", itemBytes: itemBytes)
        switch element {
        case 8: return .strings(try (0..<count).map { i in try ggufString("\(key)[\(i)]") })
        case 5: return .int32s(try (0..<count).map { i in Int32(bitPattern: try u32("\(key)[\(i)]")) })
        case 9: for i in 0..<count { _ = try value(type: 9, key: "\(key)[\(i)]", depth: depth) }
        default:
            guard let size = Self.fixedSize(element) else { throw fail("metadata \(key) has unknown element type \(element)") }
            try skip(count * size, key)
        }
        return nil
    }

    /// A tensor description: name, dimensions, type and offset, each checked against the file.
    fileprivate mutating func tensorInfo() throws -> GGUF.TensorInfo {
        let name = try ggufString("a tensor name", limit: GGUF.Limits.nameBytes)
        let rank = try u32("the dimension count of tensor '\(name)'")
        guard rank >= 1, rank <= GGUF.Limits.dimensions else {
            throw fail("tensor '\(name)' has \(rank) dimensions; at most \(GGUF.Limits.dimensions) are allowed")
        }
        var dimensions: [Int] = []
        for d in 0..<Int(rank) {
            let raw = try u64("dimension \(d) of tensor '\(name)'")
            // No type packs more than two elements into a byte.
            guard raw <= UInt64(2 * data.count) else {
                throw fail("tensor '\(name)' dimension \(d) is \(raw), more elements than this \(data.count)-byte file can hold")
            }
            dimensions.append(Int(raw))
        }
        let rawType = try u32("the type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: rawType) else { throw fail("tensor '\(name)' has ggml type \(rawType); pipe reads f32, f16, q8_0 and q4_0") }
        guard dimensions[0] % type.blockSize == 0 else {
            throw fail("tensor '\(name)' has rows of \(dimensions[0]) elements, not a multiple of \(type.name)'s block of \(type.blockSize)")
        }
        guard let count = elementCount(dimensions), count / type.blockSize <= data.count / type.blockBytes else {
            throw fail("tensor '\(name)' of dimensions \(dimensions) has more elements than this \(data.count)-byte file can hold")
        }
        let offset = try u64("the offset of tensor '\(name)'")
        guard offset <= UInt64(data.count) else { throw fail("tensor '\(name)' has offset \(offset), past the end of the \(data.count)-byte file") }
        return GGUF.TensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(offset), bytes: type.bytes(for: count))
    }
}
