import Foundation

/// A byte-level BPE vocabulary: special tokens, byte tokens and merges in rank order.
///
/// Ids follow Hugging Face's trainer: special tokens first, then the 256 byte tokens in the
/// code-point order of their characters, then one token per merge.
struct BPEModel: Sendable {
    /// The bytes of each token (a special token's bytes are its UTF-8 text).
    var tokens: [[UInt8]]
    /// Special tokens by id.
    var specials: [(id: Int32, text: String)]
    /// Merged pairs in rank order, with the id each produces.
    var merges: [(left: Int32, right: Int32, result: Int32)]
    /// The id of each single byte.
    var byteIds: [Int32]
    /// (left << 32 | right) -> (rank, result id).
    var mergeTable: [UInt64: (rank: Int32, id: Int32)]

    init(tokens: [[UInt8]], specials: [(id: Int32, text: String)], merges: [(left: Int32, right: Int32, result: Int32)]) throws {
        self.tokens = tokens
        self.specials = specials
        self.merges = merges
        var byteIds = [Int32](repeating: -1, count: 256)
        let specialIds = Set(specials.map(\.id))
        for (id, bytes) in tokens.enumerated() where bytes.count == 1 && !specialIds.contains(Int32(id)) {
            if byteIds[Int(bytes[0])] < 0 { byteIds[Int(bytes[0])] = Int32(id) }
        }
        if let missing = byteIds.firstIndex(of: -1) {
            throw TokenizerError("the vocabulary has no token for byte \(missing); byte-level BPE needs all 256")
        }
        self.byteIds = byteIds
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(merges.count)
        for (rank, m) in merges.enumerated() where table[Self.key(m.left, m.right)] == nil {
            table[Self.key(m.left, m.right)] = (Int32(rank), m.result)
        }
        mergeTable = table
    }

    @inline(__always)
    static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    var vocabularySize: Int { tokens.count }

    /// Applies merges to one pre-token: repeatedly the lowest-ranked pair, leftmost first.
    func encodeWord(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if bytes.count == 1 {
            out.append(byteIds[Int(bytes[0])])
            return
        }
        var symbols = bytes.map { byteIds[Int($0)] }
        while symbols.count > 1 {
            var bestRank = Int32.max, bestAt = -1, bestId: Int32 = 0
            for i in 0..<(symbols.count - 1) {
                if let m = mergeTable[Self.key(symbols[i], symbols[i + 1])], m.rank < bestRank {
                    bestRank = m.rank
                    bestAt = i
                    bestId = m.id
                }
            }
            if bestAt < 0 { break }
            symbols[bestAt] = bestId
            symbols.remove(at: bestAt + 1)
        }
        out.append(contentsOf: symbols)
    }

    /// The text of a sequence of ids (invalid UTF-8 from partial tokens becomes U+FFFD).
    func decode(_ ids: [Int32]) throws -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard id >= 0, Int(id) < tokens.count else { throw TokenizerError("token id \(id) is outside the vocabulary (\(tokens.count))") }
            bytes.append(contentsOf: tokens[Int(id)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A tokenizer problem with a message for the user.
struct TokenizerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
