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

    /// A pair waiting to be merged, with the words it was seen in when queued.
    private struct Candidate {
        var count: Int64
        var pair: UInt64
        var words: Int  // index into `wordLists`
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

        // Words as symbol sequences.
        var words: [[Int32]] = (0..<counted.table.count).map { index in counted.table.word(index).map { byteIds[Int($0)] } }
        let counts = counted.counts

        var pairCounts: [UInt64: Int64] = [:]
        var wordLists: [[Int32]] = []
        var initialWords: [UInt64: Int] = [:]
        for (w, symbols) in words.enumerated() where symbols.count > 1 {
            for i in 0..<(symbols.count - 1) {
                let pair = BPEModel.key(symbols[i], symbols[i + 1])
                pairCounts[pair, default: 0] += counts[w]
                if let list = initialWords[pair] {
                    if wordLists[list].last != Int32(w) { wordLists[list].append(Int32(w)) }
                } else {
                    initialWords[pair] = wordLists.count
                    wordLists.append([Int32(w)])
                }
            }
        }
        var heap = MaxHeap<Candidate> { a, b in a.count != b.count ? a.count > b.count : a.pair < b.pair }
        for (pair, list) in initialWords where pairCounts[pair]! > 0 {
            heap.push(Candidate(count: pairCounts[pair]!, pair: pair, words: list))
        }

        var merges: [(left: Int32, right: Int32, result: Int32)] = []
        let target = vocabularySize - tokens.count
        var fresh: [UInt64: Int] = [:]
        while tokens.count < vocabularySize, var top = heap.pop() {
            let current = pairCounts[top.pair] ?? 0
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

            fresh.removeAll(keepingCapacity: true)
            for w32 in wordLists[top.words] {
                let w = Int(w32)
                let weight = counts[w]
                func change(_ pair: UInt64, _ delta: Int64) {
                    pairCounts[pair, default: 0] += delta * weight
                    if delta > 0 {
                        if let list = fresh[pair] {
                            if wordLists[list].last != w32 { wordLists[list].append(w32) }
                        } else {
                            fresh[pair] = wordLists.count
                            wordLists.append([w32])
                        }
                    }
                }
                var symbols: [Int32] = []
                swap(&symbols, &words[w])
                var i = 0
                while i < symbols.count {
                    if symbols[i] == left, i + 1 < symbols.count, symbols[i + 1] == right {
                        if i > 0 {
                            change(BPEModel.key(symbols[i - 1], left), -1)
                            change(BPEModel.key(symbols[i - 1], newId), 1)
                        }
                        symbols[i] = newId
                        symbols.remove(at: i + 1)
                        if i < symbols.count - 1 {
                            change(BPEModel.key(right, symbols[i + 1]), -1)
                            change(BPEModel.key(newId, symbols[i + 1]), 1)
                        }
                    }
                    i += 1
                }
                swap(&symbols, &words[w])
            }
            wordLists[top.words] = []
            for (pair, list) in fresh.sorted(by: { $0.key < $1.key }) {
                let count = pairCounts[pair] ?? 0
                if count > 0 { heap.push(Candidate(count: count, pair: pair, words: list)) }
            }
            if merges.count % 64 == 0 { progress(merges.count, target) }
        }
        progress(merges.count, target)
        let specials = specialTokens.enumerated().map { (Int32($0.offset), $0.element) }
        return try BPEModel(tokens: tokens, specials: specials, merges: merges)
    }
}

/// A binary heap ordered by `before` (the element that should come out first).
struct MaxHeap<Element> {
    private var items: [Element] = []
    private let before: (Element, Element) -> Bool

    init(_ before: @escaping (Element, Element) -> Bool) { self.before = before }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ element: Element) {
        items.append(element)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            if !before(items[child], items[parent]) { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Element? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var first = parent
            if left < items.count, before(items[left], items[first]) { first = left }
            if right < items.count, before(items[right], items[first]) { first = right }
            if first == parent { break }
            items.swapAt(parent, first)
            parent = first
        }
        return top
    }
}
