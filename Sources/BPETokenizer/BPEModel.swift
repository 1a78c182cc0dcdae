import Foundation

/// A byte-level BPE vocabulary: special tokens, byte tokens and merges in rank order.
///
/// Ids follow Hugging Face's trainer: special tokens first, then the 256 byte tokens in the
/// code-point order of their characters, then one token per merge.
package struct BPEModel: Sendable {
    /// The bytes of each token (a special token's bytes are its UTF-8 text).
    package var tokens: [[UInt8]]
    /// Special tokens by id.
    package var specials: [(id: Int32, text: String)]
    /// Merged pairs in rank order, with the id each produces.
    package var merges: [(left: Int32, right: Int32, result: Int32)]
    /// The id of each single byte.
    package var byteIds: [Int32]
    /// (left << 32 | right) -> rank << 32 | result id.
    package var mergeTable: PairMap<UInt64>

    package init(tokens: [[UInt8]], specials: [(id: Int32, text: String)], merges: [(left: Int32, right: Int32, result: Int32)]) throws {
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
        var table = PairMap<UInt64>(capacity: merges.count, fill: .max)
        for (rank, m) in merges.enumerated() {
            table.update(Self.key(m.left, m.right)) { entry in
                if entry == .max { entry = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: m.result)) }
            }
        }
        mergeTable = table
    }

    @inline(__always)
    package static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    package var vocabularySize: Int { tokens.count }

    /// Pre-tokens up to this many bytes are merged by `encodeWordByScan`, longer ones by
    /// `encodeWordByQueue`: the scan is faster on the short words of ordinary text, the queue
    /// keeps a megabyte-long word from taking quadratic time.
    package static let longWord = 64

    /// Applies merges to one pre-token: repeatedly the lowest-ranked pair, leftmost first.
    package func encodeWord(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        if bytes.count <= Self.longWord {
            encodeWordByScan(bytes, into: &out)
        } else {
            encodeWordByQueue(bytes, into: &out)
        }
    }

    /// The rank (high 32 bits) and result id (low 32 bits) of merging `left` and `right`.
    @inline(__always)
    private func merge(_ left: Int32, _ right: Int32) -> UInt64? { mergeTable.get(Self.key(left, right)) }

    /// `encodeWord` in O(n²): each symbol keeps the rank of the pair it starts; a merge rescans
    /// ranks (integers, no hashing) and looks up only the two pairs it changed.
    package func encodeWordByScan(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = bytes.count
        if n == 1 {
            out.append(byteIds[Int(bytes[0])])
            return
        }
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: n) { symbols in
            withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n) { ranks in
                for i in 0..<n { symbols[i] = byteIds[Int(bytes[i])] }
                @inline(__always) func rank(_ i: Int, _ count: Int) -> UInt64 {
                    i + 1 < count ? (merge(symbols[i], symbols[i + 1]) ?? .max) : .max
                }
                var count = n
                for i in 0..<count { ranks[i] = rank(i, count) }
                while count > 1 {
                    var best = UInt64.max, at = -1
                    for i in 0..<(count - 1) where ranks[i] < best {
                        best = ranks[i]
                        at = i
                    }
                    if at < 0 { break }
                    symbols[at] = Int32(truncatingIfNeeded: best & 0xFFFF_FFFF)
                    for i in (at + 1)..<(count - 1) {
                        symbols[i] = symbols[i + 1]
                        ranks[i] = ranks[i + 1]
                    }
                    count -= 1
                    ranks[at] = rank(at, count)
                    if at > 0 { ranks[at - 1] = rank(at - 1, count) }
                }
                out.append(contentsOf: UnsafeBufferPointer(start: symbols.baseAddress, count: count))
            }
        }
    }

    /// `encodeWord` in O(n log n), as Hugging Face's `Word::merge_all` does it: the symbols form
    /// a linked list over the byte positions, and a min-heap holds each candidate pair as
    /// rank << 32 | position, so the lowest rank comes first and, among equal ranks, the
    /// leftmost. A candidate whose pair changed since it was queued is skipped when popped.
    package func encodeWordByQueue(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        let n = bytes.count
        var symbols = bytes.map { byteIds[Int($0)] }  // -1 once merged into its left neighbour
        var next = Array(1...n), previous = Array(-1..<(n - 1))  // n: no next symbol
        var queue = MaxHeap<UInt64>(<)
        func enqueue(_ i: Int) {
            if next[i] < n, let m = merge(symbols[i], symbols[next[i]]) { queue.push(m & 0xFFFF_FFFF_0000_0000 | UInt64(i)) }
        }
        for i in 0..<n { enqueue(i) }
        while let top = queue.pop() {
            let i = Int(top & 0xFFFF_FFFF), j = next[i]
            guard symbols[i] >= 0, j < n, let m = merge(symbols[i], symbols[j]), m >> 32 == top >> 32 else { continue }
            symbols[i] = Int32(truncatingIfNeeded: m & 0xFFFF_FFFF)
            symbols[j] = -1
            next[i] = next[j]
            if next[j] < n { previous[next[j]] = i }
            if previous[i] >= 0 { enqueue(previous[i]) }
            enqueue(i)
        }
        var i = 0
        while i < n {
            out.append(symbols[i])
            i = next[i]
        }
    }

    /// The text of a sequence of ids (invalid UTF-8 from partial tokens becomes U+FFFD).
    package func decode(_ ids: [Int32]) throws -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard id >= 0, Int(id) < tokens.count else { throw TokenizerError("token id \(id) is outside the vocabulary (\(tokens.count))") }
            bytes.append(contentsOf: tokens[Int(id)])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// A tokenizer problem with a message for the user.
package struct TokenizerError: Error, CustomStringConvertible {
    package var description: String
    package init(_ description: String) { self.description = description }
}
