import PipeKit

/// A candidate pair from LSH: two document indices, `first < second`, packed in one word so a
/// list of them sorts and deduplicates as integers.
struct CandidatePair: Hashable, Comparable {
    let packed: UInt64

    init(_ x: Int, _ y: Int) { packed = UInt64(min(x, y)) << 32 | UInt64(max(x, y)) }

    var first: Int { Int(packed >> 32) }
    var second: Int { Int(packed & 0xFFFF_FFFF) }

    static func < (l: CandidatePair, r: CandidatePair) -> Bool { l.packed < r.packed }
}

/// Checks LSH candidate pairs by the exact Jaccard similarity of their shingle sets (the sets of
/// 32-bit shingle hashes), reading the shards again.
///
/// Only documents that appear in a pair are shingled. Memory is bounded by `budgetBytes`: the
/// pairs are split into blocks by their first document so that the first documents' shingle
/// sets of a block fit the budget, and each block is one pass over the shards, in order. A
/// pair's second document comes later in that order, so its set is built when it is reached
/// and compared at once with the stored first set. One block (one pass) is the usual case: the
/// default budget holds the sets of about a gigabyte of candidate text.
struct ExactVerifier {
    let hasher: MinHasher
    let normalize: Bool
    let threshold: Double
    let budgetBytes: Int

    /// Whether each of `pairs` (sorted, unique) reaches `threshold`. `lengths` are the
    /// documents' text lengths, an upper bound on their shingle counts. `progress` hears the
    /// fraction done after each shard read, and returns how many passes the blocks took.
    func verify(_ pairs: [CandidatePair], lengths: [Int], shards: [String], threads: Int,
                read: (String) throws -> DocumentLines, progress: (Double, String) -> Void) throws -> (verdicts: [Bool], passes: Int) {
        var verified = [Bool](repeating: false, count: pairs.count)
        let blocks = Self.blocks(pairs, cost: { 4 * (lengths[$0] + 1) }, budget: budgetBytes)
        for (n, block) in blocks.enumerated() {
            try verifyBlock(pairs[block], into: &verified, shards: shards, threads: threads, read: read) { shard in
                progress((Double(n) + Double(shard) / Double(shards.count)) / Double(blocks.count),
                         "exact Jaccard: pass \(n + 1)/\(blocks.count), shard \(shard)/\(shards.count)")
            }
        }
        return (verified, blocks.count)
    }

    /// Contiguous ranges of `pairs` whose distinct first documents cost at most `budget` each
    /// (a single document over budget makes a block of its own).
    static func blocks(_ pairs: [CandidatePair], cost: (Int) -> Int, budget: Int) -> [Range<Int>] {
        var blocks: [Range<Int>] = [], start = 0, used = 0, previous = -1
        for (index, pair) in pairs.enumerated() where pair.first != previous {
            previous = pair.first
            let c = cost(pair.first)
            if used + c > budget && index > start {
                blocks.append(start..<index)
                start = index
                used = 0
            }
            used += c
        }
        if start < pairs.count { blocks.append(start..<pairs.count) }
        return blocks
    }

    /// One pass over the shards for the pairs of one block.
    private func verifyBlock(_ pairs: ArraySlice<CandidatePair>, into verified: inout [Bool], shards: [String], threads: Int,
                             read: (String) throws -> DocumentLines, shardDone: (Int) -> Void) throws {
        let firsts = Set(pairs.map(\.first))
        var partners: [Int: [(first: Int, pair: Int)]] = [:]
        for (index, pair) in zip(pairs.indices, pairs) { partners[pair.second, default: []].append((pair.first, index)) }
        let last = pairs.map(\.second).max() ?? -1
        var stored = ShingleSets()
        var base = 0
        for (n, shard) in shards.enumerated() where base <= last {
            let lines = try read(shard)
            let needed = (base..<(base + lines.lines.count)).filter { firsts.contains($0) || partners[$0] != nil }
            let sets = try shingleSets(of: needed, base: base, lines, threads: threads)
            for (slot, document) in needed.enumerated() {
                let set = sets.set(slot)
                for (first, pair) in partners[document] ?? [] {
                    verified[pair] = Self.jaccard(stored.set(of: first), set) >= threshold
                }
                if firsts.contains(document) { stored.add(set, for: document) }
            }
            base += lines.lines.count
            shardDone(n + 1)
        }
    }

    /// The sorted, unique shingle hashes of documents `needed` (indices from `base`), built on
    /// `threads` threads; slot k of the result is `needed[k]`.
    private func shingleSets(of needed: [Int], base: Int, _ lines: DocumentLines, threads: Int) throws -> ShingleSets {
        let parts = min(threads, max(1, needed.count))
        let built = try Parallel.map(parts, threads: parts) { part -> ShingleSets in
            let simplifier = TextSimplifier(), scratch = ShingleScratch()
            var sets = ShingleSets()
            let mine = needed[(needed.count * part / parts)..<(needed.count * (part + 1) / parts)]
            try lines.forEachText(mine.lazy.map { $0 - base }) { text, line in
                let body = normalize ? simplifier.simplify(text) : text
                sets.add(scratch.shingleSet(count: hasher.shingles(body, into: scratch)), for: base + line)
            }
            return sets
        }
        return built.dropFirst().reduce(into: built.first ?? ShingleSets()) { $0.append($1) }
    }

    /// |a ∩ b| / |a ∪ b| of two sorted, unique arrays (1 for two empty sets).
    static func jaccard(_ a: ArraySlice<UInt32>, _ b: ArraySlice<UInt32>) -> Double {
        if a.isEmpty && b.isEmpty { return 1 }
        var i = a.startIndex, j = b.startIndex, common = 0
        while i < a.endIndex && j < b.endIndex {
            if a[i] == b[j] { common += 1; i += 1; j += 1 } else if a[i] < b[j] { i += 1 } else { j += 1 }
        }
        return Double(common) / Double(a.count + b.count - common)
    }
}

/// Shingle sets of several documents in one pool.
private struct ShingleSets {
    private var pool: [UInt32] = []
    private var ranges: [Range<Int>] = []
    private var slotOf: [Int: Int] = [:]

    mutating func add(_ hashes: some Collection<UInt32>, for document: Int) {
        slotOf[document] = ranges.count
        ranges.append(pool.count..<(pool.count + hashes.count))
        pool.append(contentsOf: hashes)
    }

    mutating func append(_ other: ShingleSets) {
        for (document, slot) in other.slotOf.sorted(by: { $0.value < $1.value }) { add(other.set(slot), for: document) }
    }

    func set(_ slot: Int) -> ArraySlice<UInt32> { pool[ranges[slot]] }
    func set(of document: Int) -> ArraySlice<UInt32> { pool[ranges[slotOf[document]!]] }
}
