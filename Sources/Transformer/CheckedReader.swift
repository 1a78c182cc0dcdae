import Foundation

/// Sequential little-endian reads over a file's bytes. Every read and every count is checked
/// against the bytes left before anything is allocated, and errors name the file, the field
/// and the byte offset, so a crafted file gets a sentence instead of a trap.
struct CheckedReader {
    let data: Data
    let path: String
    private(set) var position = 0

    init(_ data: Data, path: String) {
        self.data = data
        self.path = path
    }

    /// Bytes after the current position.
    var remaining: Int { data.count - position }

    func fail(_ why: String) -> TransformerError { TransformerError("\(path): \(why) (at byte \(position))") }

    /// Moves past `n` bytes of `field`.
    mutating func skip(_ n: Int, _ field: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw fail("\(field()) needs \(n) bytes, only \(remaining) are left in the file")
        }
        position += n
    }

    mutating func bytes(_ n: Int, _ field: @autoclosure () -> String) throws -> [UInt8] {
        let start = position
        try skip(n, field())
        return [UInt8](data[start..<start + n])
    }

    mutating func u32(_ field: @autoclosure () -> String) throws -> UInt32 { try load(UInt32.self, field()) }
    mutating func u64(_ field: @autoclosure () -> String) throws -> UInt64 { try load(UInt64.self, field()) }

    private mutating func load<T: FixedWidthInteger>(_: T.Type, _ field: @autoclosure () -> String) throws -> T {
        let start = position
        try skip(MemoryLayout<T>.size, field())
        return data.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: start, as: T.self)) }
    }

    /// A 64-bit count of items of at least `itemBytes` bytes each, which must fit in the rest of
    /// the file and be at most `limit`.
    mutating func count(_ field: @autoclosure () -> String, itemBytes: Int, limit: Int? = nil) throws -> Int {
        let raw = try u64(field())
        if let limit, raw > UInt64(limit) { throw fail("\(field()) is \(raw), more than the limit of \(limit)") }
        guard raw <= UInt64(remaining / max(itemBytes, 1)) else {
            throw fail("\(field()) is \(raw), more than the \(remaining) bytes left in the file can hold")
        }
        return Int(raw)
    }
}

/// The number of elements of a tensor of shape `dimensions`, or nil when a dimension is
/// negative or the product overflows.
func elementCount(_ dimensions: [Int]) -> Int? {
    var product = 1
    for d in dimensions {
        guard d >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        product = next
    }
    return product
}
