import BPETokenizer
import Foundation

/// Learns byte-level BPE merges the way Hugging Face's `BpeTrainer` does, so that the same
/// corpus gives the same vocabulary: words are counted after GPT-2 pre-tokenization; the most
/// frequent adjacent pair is merged next, ties going to the pair of smaller ids; each merge
/// updates only the words that contain the pair.
struct BPETrainer {
    var vocabularySize: Int
    var minFrequency: Int
    var specialTokens: [String]

    /// Distinct pre-tokens and how often each occurs.
    struct WordCounts {
        var table = WordTable()
        var counts: [Int64] = []

        /// Counts the pre-tokens of one document.
        mutating func add(_ text: UnsafeBufferPointer<UInt8>) {
            PreTokenizer.split(text) { start, end in
                let word = UnsafeBufferPointer(rebasing: text[start..<end])
                let (index, inserted) = table.insert(word, hash: WordTable.hash(word))
                if inserted { counts.append(1) } else { counts[index] += 1 }
            }
        }

        /// Adds another counter's words (used to join per-thread counts).
        mutating func add(_ other: WordCounts) {
            for index in 0..<other.table.count {
                other.table.arena.withUnsafeBufferPointer { arena in
                    let word = UnsafeBufferPointer(rebasing: arena[other.table.starts[index]..<other.table.starts[index + 1]])
                    let (mine, inserted) = table.insert(word, hash: WordTable.hash(word))
                    if inserted { counts.append(other.counts[index]) } else { counts[mine] += other.counts[index] }
                }
            }
        }
    }

    /// Trains on counted words, reporting progress as merges complete.
    func train(_ counted: WordCounts, progress: (Int, Int) -> Void = { _, _ in }) throws -> BPEModel {
        let specialCount = specialTokens.count
        guard vocabularySize >= specialCount + 256 else {
            throw TokenizerError("vocab_size \(vocabularySize) is below the \(specialCount + 256) special and byte tokens")
        }
        var tokens: [[UInt8]] = specialTokens.map { Array($0.utf8) }
        var byteIds = [Int32](repeating: 0, count: 256)
        for b in ByteLevel.byteOrder {
            byteIds[Int(b)] = Int32(tokens.count)
            tokens.append([b])
        }
        var tokenIndex: [[UInt8]: Int32] = [:]
        for (id, t) in tokens.enumerated() where id >= specialCount { tokenIndex[t] = Int32(id) }

        var state = try MergeState(counted, byteIds: byteIds)
        var heap = MaxHeap<MergeState.Candidate> { a, b in a.count != b.count ? a.count > b.count : a.pair < b.pair }
        for candidate in state.initialCandidates() { heap.push(candidate) }

        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        let target = vocabularySize - tokens.count
        while tokens.count < vocabularySize, var top = heap.pop() {
            let current = state.pairCounts[top.pair] ?? 0
            if top.count != current {
                top.count = current
                heap.push(top)
                continue
            }
            if top.count < 1 || top.count < Int64(minFrequency) { break }
            let left = Int32(truncatingIfNeeded: top.pair >> 32), right = Int32(truncatingIfNeeded: top.pair & 0xFFFF_FFFF)
            let newBytes = tokens[Int(left)] + tokens[Int(right)]
            let newId: Int32
            if let existing = tokenIndex[newBytes] {
                newId = existing
            } else {
                newId = Int32(tokens.count)
                tokens.append(newBytes)
                tokenIndex[newBytes] = newId
            }
            merges.append((left, right, newId))
            for candidate in state.merge(top, into: newId, stamp: Int32(merges.count)) { heap.push(candidate) }
            if merges.count % 64 == 0 { progress(merges.count, target) }
        }
        progress(merges.count, target)
        let specials = specialTokens.enumerated().map { (Int32($0.offset), $0.element) }
        return try BPEModel(tokens: tokens, specials: specials, merges: merges)
    }
}

/// The counted words as linked lists of symbols over flat arrays, and where each pair occurs,
/// so that a merge costs time in proportion to the occurrences of its pair, not to the length
/// of the words holding them (a megabyte-long word is one more word).
///
/// Each pair has one list of positions (the slot of its left symbol), appended in blocks: the
/// initial occurrences, then those each merge creates. Entries go stale as merges change
/// symbols and are skipped, since a symbol only ever grows: a position once no longer holding
/// a pair never holds it again.
private struct MergeState {
    /// A pair waiting to be merged, with the block of its list recorded when it was queued.
    struct Candidate {
        var count: Int64
        var pair: UInt64
        var start: Int
        var end: Int
    }

    /// Symbol ids by slot; -1 once merged into the symbol on its left.
    private var ids: [Int32] = []
    /// The next and previous slot of each word's list; -1 past either end.
    private var next: [Int32] = [], previous: [Int32] = []
    /// The word of each slot, and how often each word occurs.
    private var word: [Int32] = []
    private let counts: [Int64]
    private(set) var pairCounts: [UInt64: Int64] = [:]
    private var lists: [[Int32]] = []
    private var listOf: [UInt64: Int] = [:]
    /// Pairs this merge created, with where their new block starts.
    private var fresh: [UInt64: Int] = [:]
    /// The merge that last picked each word.
    private var stamps: [Int32]
    private var targets: [Int32] = []

    init(_ counted: BPETrainer.WordCounts, byteIds: [Int32]) throws {
        let table = counted.table
        guard table.arena.count < Int(Int32.max) else {
            throw TokenizerError("the distinct words hold \(table.arena.count) bytes; training takes at most \(Int32.max)")
        }
        counts = counted.counts
        stamps = [Int32](repeating: 0, count: table.count)
        ids = table.arena.map { byteIds[Int($0)] }
        (next, previous, word) = ([Int32](repeating: -1, count: ids.count), [Int32](repeating: -1, count: ids.count), [Int32](repeating: 0, count: ids.count))
        for w in 0..<table.count {
            let range = table.starts[w]..<table.starts[w + 1]
            for slot in range {
                word[slot] = Int32(w)
                if slot > range.lowerBound { previous[slot] = Int32(slot - 1) }
                if slot + 1 < range.upperBound { next[slot] = Int32(slot + 1) }
            }
        }
    }

    /// Every adjacent pair counted, one candidate per pair.
    mutating func initialCandidates() -> [Candidate] {
        for slot in ids.indices where next[slot] >= 0 {
            let pair = BPEModel.key(ids[slot], ids[Int(next[slot])])
            pairCounts[pair, default: 0] += counts[Int(word[slot])]
            record(pair, at: Int32(slot))
        }
        return takeFresh()
    }

    /// Appends `slot` to the list of `pair`, opening this merge's block if needed.
    private mutating func record(_ pair: UInt64, at slot: Int32) {
        let list: Int
        if let known = listOf[pair] {
            list = known
        } else {
            list = lists.count
            listOf[pair] = list
            lists.append([])
        }
        if fresh[pair] == nil { fresh[pair] = lists[list].count }
        lists[list].append(slot)
    }

    /// Candidates for the pairs recorded since the last call, in pair order, those with a
    /// positive count.
    private mutating func takeFresh() -> [Candidate] {
        defer { fresh.removeAll(keepingCapacity: true) }
        return fresh.sorted { $0.key < $1.key }.compactMap { pair, start in
            let count = pairCounts[pair] ?? 0
            return count > 0 ? Candidate(count: count, pair: pair, start: start, end: lists[listOf[pair]!].count) : nil
        }
    }

    /// Merges `candidate`'s pair into `newId` in every word its block names (all occurrences
    /// in those words, left to right, as a scan of each word would), updating pair counts;
    /// returns candidates for the pairs the merge created.
    mutating func merge(_ candidate: Candidate, into newId: Int32, stamp: Int32) -> [Candidate] {
        let list = listOf[candidate.pair]!
        let left = Int32(truncatingIfNeeded: candidate.pair >> 32), right = Int32(truncatingIfNeeded: candidate.pair & 0xFFFF_FFFF)
        for slot in lists[list][candidate.start..<candidate.end] { stamps[Int(word[Int(slot)])] = stamp }
        targets.removeAll(keepingCapacity: true)
        for slot in lists[list] where stamps[Int(word[Int(slot)])] == stamp { targets.append(slot) }
        if candidate.start == 0, candidate.end == lists[list].count { lists[list] = [] }
        targets.sort()
        for slot in targets where holds(Int(slot), left, right) { merge(at: Int(slot), left, right, into: newId) }
        return takeFresh()
    }

    /// Whether `slot` still starts the pair (left, right).
    private func holds(_ slot: Int, _ left: Int32, _ right: Int32) -> Bool {
        ids[slot] == left && next[slot] >= 0 && ids[Int(next[slot])] == right
    }

    /// One occurrence: the pair at `slot` becomes `newId`, and the pairs around it change.
    private mutating func merge(at slot: Int, _ left: Int32, _ right: Int32, into newId: Int32) {
        let weight = counts[Int(word[slot])], removed = Int(next[slot])
        if previous[slot] >= 0 {
            let before = previous[slot]
            pairCounts[BPEModel.key(ids[Int(before)], left), default: 0] -= weight
            pairCounts[BPEModel.key(ids[Int(before)], newId), default: 0] += weight
            record(BPEModel.key(ids[Int(before)], newId), at: before)
        }
        ids[slot] = newId
        ids[removed] = -1
        next[slot] = next[removed]
        if next[slot] >= 0 {
            let after = Int(next[slot])
            previous[after] = Int32(slot)
            pairCounts[BPEModel.key(right, ids[after]), default: 0] -= weight
            pairCounts[BPEModel.key(newId, ids[after]), default: 0] += weight
            record(BPEModel.key(newId, ids[after]), at: Int32(slot))
        }
    }
}
