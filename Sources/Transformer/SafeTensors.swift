import Foundation

/// Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON
/// header `{name: {dtype, shape, data_offsets}, "__metadata__": {…}}`, then the raw data.
public enum SafeTensors {
    /// A tensor to write: its name, shape and floats (stored as F32).
    public struct Source {
        public let name: String
        public let shape: [Int]
        public let values: UnsafeBufferPointer<Float>
        public init(name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    /// A tensor read back, converted to Float.
    public struct Tensor: Sendable {
        public let shape: [Int]
        public let values: [Float]
    }

    /// Writes `tensors` in the order given; the header lists names sorted, padded to 8 bytes.
    public static func write(_ tensors: [Source], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        var offset = 0
        for t in tensors {
            precondition(t.values.count == t.shape.reduce(1, *), "\(t.name): shape does not match its values")
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        header["__metadata__"] = metadata.merging(["format": "pt"]) { mine, _ in mine }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw TransformerError("cannot create \(url.path)")
        }
        let handle = try FileHandle(forWritingTo: url)
        defer { try? handle.close() }
        var length = UInt64(json.count).littleEndian
        try handle.write(contentsOf: Data(bytes: &length, count: 8))
        try handle.write(contentsOf: json)
        for t in tensors {
            try handle.write(contentsOf: Data(buffer: t.values))
        }
    }

    /// The largest JSON header read: a 1024-layer model's is about 1.5 MB, and parsing costs
    /// up to about 25 bytes per byte of a crafted header.
    public static let maxHeaderBytes = 4 << 20

    /// Every tensor in the file, by name; F32, F16 and BF16 are converted to Float.
    ///
    /// As the safetensors library requires, the tensors' byte ranges must tile the data
    /// section exactly: no gaps, no overlaps, nothing after the last.
    public static func read(_ url: URL) throws -> [String: Tensor] {
        var reader = CheckedReader(try Data(contentsOf: url, options: .alwaysMapped), path: url.path)
        let length = try reader.count("the header length", itemBytes: 1, limit: maxHeaderBytes)
        let json = Data(try reader.bytes(length, "the header"))
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw reader.fail("the header is not JSON (\(error.localizedDescription))")
        }
        guard let header = parsed as? [String: Any] else { throw reader.fail("the header is not a JSON object") }
        let entries = try header.filter { $0.key != "__metadata__" }.map { try Entry(name: $0.key, $0.value, dataBytes: reader.remaining, reader) }
        var end = 0
        for entry in entries.sorted(by: { ($0.begin, $0.end) < ($1.begin, $1.end) }) {
            guard entry.begin == end else {
                throw reader.fail("tensor \(entry.name): data_offsets start at \(entry.begin), expected \(end) (ranges must follow each other without gaps or overlaps)")
            }
            end = entry.end
        }
        guard end == reader.remaining else { throw reader.fail("the tensors cover \(end) of the \(reader.remaining) data bytes") }
        let body = reader.data.suffix(from: reader.position)
        var tensors: [String: Tensor] = [:]
        for entry in entries { tensors[entry.name] = Tensor(shape: entry.shape, values: entry.floats(body)) }
        return tensors
    }

    /// One header entry, checked: a known dtype, a shape whose bytes match its data range,
    /// and a range inside the data section.
    private struct Entry {
        let name: String, dtype: String, shape: [Int], count: Int, begin: Int, end: Int

        static let widths = ["F32": 4, "F16": 2, "BF16": 2]

        init(name: String, _ value: Any, dataBytes: Int, _ reader: CheckedReader) throws {
            func fail(_ why: String) -> TransformerError { reader.fail("tensor \(name): \(why)") }
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("malformed header entry (dtype, shape and data_offsets of integers are required)") }
            guard let width = Self.widths[dtype] else { throw fail("dtype \(dtype); only F32, F16 and BF16 are read") }
            if let d = shape.firstIndex(where: { $0 < 0 }) { throw fail("shape \(shape): dimension \(d) is negative") }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end, end <= dataBytes else {
                throw fail("data_offsets [\(begin), \(end)] are not a range inside the \(dataBytes) data bytes")
            }
            guard let count = elementCount(shape), count <= (end - begin) / width, count * width == end - begin else {
                throw fail("shape \(shape) of \(dtype) does not match data_offsets [\(begin), \(end)] (\(end - begin) bytes)")
            }
            (self.name, self.dtype, self.shape, self.count, self.begin, self.end) = (name, dtype, shape, count, begin, end)
        }

        /// The values, converted from `dtype`, out of the data section.
        func floats(_ body: Data) -> [Float] {
            body.withUnsafeBytes { all in
                let raw = UnsafeRawBufferPointer(rebasing: all[begin..<end])
                switch dtype {
                case "F32": return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
                case "F16": return (0..<count).map { Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
                default: return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
                }
            }
        }
    }
}

/// An error about model files or shapes, with a message for the user.
public struct TransformerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
