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

    /// Every tensor in the file, by name; F32, F16 and BF16 are converted to Float.
    public static func read(_ url: URL) throws -> [String: Tensor] {
        let data = try Data(contentsOf: url, options: .alwaysMapped)
        func fail(_ why: String) -> TransformerError { TransformerError("\(url.path): \(why)") }
        guard data.count >= 8 else { throw fail("too short to be safetensors") }
        let length = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard length > 0, 8 + length <= data.count else { throw fail("header length \(length) runs past the end of the file") }
        guard let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<8 + length)) as? [String: Any] else {
            throw fail("header is not a JSON object")
        }
        let body = 8 + length
        var tensors: [String: Tensor] = [:]
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw fail("tensor \(name) has a malformed header entry") }
            let count = shape.reduce(1, *)
            let width = ["F32": 4, "F16": 2, "BF16": 2][dtype]
            guard let width else { throw fail("tensor \(name) has dtype \(dtype); only F32, F16 and BF16 are read") }
            guard offsets[1] - offsets[0] == count * width, body + offsets[1] <= data.count else {
                throw fail("tensor \(name): data_offsets do not match its shape \(shape) or the file size")
            }
            let bytes = data.subdata(in: body + offsets[0]..<body + offsets[1])
            let values: [Float] = bytes.withUnsafeBytes { raw in
                switch dtype {
                case "F32": return (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
                case "F16": return (0..<count).map { Float(Float16(bitPattern: UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)))) }
                default: return (0..<count).map { Float(bitPattern: UInt32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) << 16) }
                }
            }
            tensors[name] = Tensor(shape: shape, values: values)
        }
        return tensors
    }
}

/// An error about model files or shapes, with a message for the user.
public struct TransformerError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
