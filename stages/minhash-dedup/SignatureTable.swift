import Foundation
import PipeKit

/// What pass 1 keeps per document, in input order: its MinHash signature (`permutations`
/// values), the hash of its normalized text, its length and its source rank. Written to and
/// read from one binary file, which is how a sharded run's pieces hand their signatures to the
/// merge.
struct SignatureTable {
    let permutations: Int
    var signatures: [UInt32] = []
    var exact: [UInt64] = []
    var lengths: [Int] = []
    var sources: [Int16] = []
    var bytesIn = 0

    init(permutations: Int) { self.permutations = permutations }

    private static let magic: UInt32 = 0x4749_5350  // "PSIG"

    /// Little-endian: magic, permutations, documents, sources count, input bytes, then the arrays.
    func write(to url: URL) throws {
        var data = Data()
        func put<T>(_ values: [T]) { values.withUnsafeBytes { data.append(contentsOf: $0) } }
        put([Self.magic, UInt32(permutations)])
        put([UInt64(exact.count), UInt64(sources.count), UInt64(bytesIn)])
        put(signatures)
        put(exact)
        put(lengths.map { UInt64($0) })
        put(sources)
        try data.write(to: url, options: .atomic)
    }

    static func read(_ url: URL, permutations: Int) throws -> SignatureTable {
        let data = try Data(contentsOf: url)
        var offset = 0
        func take<T>(_ count: Int, _ type: T.Type) throws -> [T] {
            let bytes = count * MemoryLayout<T>.stride
            guard offset + bytes <= data.count else { throw StageError("\(url.lastPathComponent): truncated signature file") }
            defer { offset += bytes }
            return data[data.startIndex + offset..<data.startIndex + offset + bytes].withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        let header = try take(2, UInt32.self)
        guard header[0] == magic, Int(header[1]) == permutations else {
            throw StageError("\(url.lastPathComponent): not a signature file for \(permutations) permutations")
        }
        let sizes = try take(3, UInt64.self)
        var table = SignatureTable(permutations: permutations)
        let documents = Int(sizes[0])
        table.bytesIn = Int(sizes[2])
        table.signatures = try take(documents * permutations, UInt32.self)
        table.exact = try take(documents, UInt64.self)
        table.lengths = try take(documents, UInt64.self).map { Int($0) }
        table.sources = try take(Int(sizes[1]), Int16.self)
        return table
    }

    mutating func append(_ other: SignatureTable) {
        signatures += other.signatures
        exact += other.exact
        lengths += other.lengths
        sources += other.sources
        bytesIn += other.bytesIn
    }
}
