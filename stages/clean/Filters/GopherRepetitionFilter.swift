import Foundation
import PipeKit

/// Gopher's repetition rules (Rae et al. 2021, table A1; as datatrove's
/// `GopherRepetitionFilter`): repeated paragraphs and lines (by count and by characters), the
/// most frequent 2-4-gram's share of the characters, and the share of characters in repeated
/// 5-10-grams.
struct GopherRepetitionFilter: QualityFilter {
    /// Its thresholds, with datatrove's defaults (those the published datasets used).
    struct Settings: Parameters {
        @Param("largest share of lines that repeat an earlier line") var dup_line_frac: Double = 0.3
        @Param("largest share of paragraphs that repeat") var dup_para_frac: Double = 0.3
        @Param("largest share of characters in repeated lines") var dup_line_char_frac: Double = 0.2
        @Param("largest share of characters in repeated paragraphs") var dup_para_char_frac: Double = 0.2
        @Param("n -> largest share of characters in the most frequent n-gram") var top_n_grams: [String: Double] = ["2": 0.2, "3": 0.18, "4": 0.16]
        @Param("n -> largest share of characters in repeated n-grams") var dup_n_grams: [String: Double] = ["5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10]
        init() {}
    }

    let settings: Settings
    var name: String { "gopher_repetition" }

    func check(_ text: TextAnalysis) -> FilterVerdict {
        let p = settings
        let length = Double(text.characters)
        guard length > 0 else { return .drop("empty") }

        // Paragraphs: the stripped text split at runs of two or more line breaks.
        let all = text.withBytes { 0..<$0.count }
        let paragraphs = text.withBytes { Self.split($0, text.stripped(all), atBreakRunsOf: 2) }
        let (paragraphRepeats, paragraphCharacters) = duplicates(paragraphs, text)
        if p.dup_para_frac > 0, Double(paragraphRepeats) / Double(paragraphs.count) > p.dup_para_frac {
            return .drop("dup_para_frac: \(paragraphRepeats) of \(paragraphs.count) paragraphs repeat")
        }
        if p.dup_para_char_frac > 0, Double(paragraphCharacters) / length > p.dup_para_char_frac {
            return .drop("dup_para_char_frac: \(rounded(Double(paragraphCharacters) / length)) of characters in repeated paragraphs")
        }

        // Lines: the text split at runs of line breaks (an empty first or last line counts).
        let lines = text.withBytes { Self.split($0, all, atBreakRunsOf: 1) }
        let (lineRepeats, lineCharacters) = duplicates(lines, text)
        if p.dup_line_frac > 0, Double(lineRepeats) / Double(lines.count) > p.dup_line_frac {
            return .drop("dup_line_frac: \(lineRepeats) of \(lines.count) lines repeat")
        }
        if p.dup_line_char_frac > 0, Double(lineCharacters) / length > p.dup_line_char_frac {
            return .drop("dup_line_char_frac: \(rounded(Double(lineCharacters) / length)) of characters in repeated lines")
        }

        let words = text.words
        let grams = NGramHashes(text, words)
        // An n-gram can only repeat where every run of n0 words inside it (n0 <= n) repeats too:
        // `Candidates` narrows the positions of each longer pass to those.
        let top = p.top_n_grams.map { (Int($0.key)!, $0.value) }.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
        var candidates = top.first.map { Candidates(repeating: $0.0, grams, text) }
        for (n, limit) in top where words.count >= n {
            let share = Double(topNGramCharacters(n, grams, candidates!, text)) / length
            if share > limit { return .drop("top_\(n)_gram: \(rounded(share)) of characters in the most frequent \(n)-gram") }
        }
        let duplicated = p.dup_n_grams.map { (Int($0.key)!, $0.value) }.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
        // The shortest repeated n-gram is counted only where the top family's candidates allow.
        let base = duplicated.first.flatMap { shortest in candidates.flatMap { shortest.0 >= $0.shortest ? $0.positions(shortest.0) : nil } }
        candidates = duplicated.first.map { Candidates(repeating: $0.0, at: base, grams, text) }
        for (n, limit) in duplicated {
            let share = Double(repeatedNGramCharacters(n, grams, candidates?.positions(n) ?? [], text)) / length
            if share > limit { return .drop("duplicated_\(n)_n_grams: \(rounded(share)) of characters in repeated \(n)-grams") }
        }
        return .keep
    }

    /// `range` split at every run of at least `minimum` line breaks (the runs removed): Python's
    /// `re.split(r"\n{minimum,}", text)`, so an empty first or last part counts.
    private static func split(_ s: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, atBreakRunsOf minimum: Int) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = range.lowerBound, i = range.lowerBound
        while i < range.upperBound {
            // The next line break, found by memchr (vectorized) rather than byte by byte.
            guard let found = memchr(s.baseAddress! + i, 0x0A, range.upperBound - i) else { break }
            i = s.baseAddress!.distance(to: found.assumingMemoryBound(to: UInt8.self))
            var j = i
            while j < range.upperBound, s[j] == 0x0A { j += 1 }
            if j - i >= minimum {
                parts.append(start..<i)
                start = j
            }
            i = j
        }
        parts.append(start..<range.upperBound)
        return parts
    }

    /// How many of `parts` repeat an earlier one, and their characters.
    private func duplicates(_ parts: [Range<Int>], _ text: TextAnalysis) -> (Int, Int) {
        var repeats = 0, characters = 0
        text.withBytes { s in
            text.table.counting(atMost: parts.count) { table in
                for part in parts where table.add(ByteHash.hash(s, part)).before > 0 {
                    repeats += 1
                    characters += UnicodeClasses.count(s, part)
                }
            }
        }
        return (repeats, characters)
    }

    /// Characters of the most frequent n-gram (words joined by spaces) times its count; among
    /// equally frequent n-grams the first seen wins, as with `Counter.most_common(1)`. Only
    /// `candidates` can occur more than once; when none does, the first n-gram wins with 1.
    private func topNGramCharacters(_ n: Int, _ grams: NGramHashes, _ candidates: Candidates, _ text: TextAnalysis) -> Int {
        var (count, winner): (Int32, Int)
        if n == candidates.shortest {
            (count, winner) = candidates.mostFrequent  // counted already
        } else {
            let positions = candidates.positions(n)
            (count, winner) = text.table.counting(atMost: positions.count) { table in
                Candidates.mostFrequent(positions) { table.add(grams.hash(Int($0), n), at: $0) }
            }
        }
        if count <= 1 { (count, winner) = (1, 0) }
        let span = grams.characters(winner, n) + (n - 1)
        return span * Int(count)
    }

    /// Characters in n-grams (words joined without spaces) that repeat an earlier one, scanning
    /// forward and jumping past each repeat. Positions outside `candidates` (ascending) start
    /// n-grams that occur once, so the scan visits only the candidates at or after where it is.
    private func repeatedNGramCharacters(_ n: Int, _ grams: NGramHashes, _ candidates: [Int32], _ text: TextAnalysis) -> Int {
        guard grams.words >= n else { return 0 }
        return text.table.counting(atMost: candidates.count) { table in
            var repeated = 0, next = 0  // the first position the scan may still count from
            for candidate in candidates {
                let i = Int(candidate)
                guard i >= next else { continue }
                if table.add(grams.hash(i, n)).before > 0 {
                    repeated += grams.characters(i, n)
                    next = i + n
                }
            }
            return repeated
        }
    }
}

/// The positions where an n-gram can repeat, for n from `shortest` up: first those whose
/// shortest n-gram occurs more than once (counted exactly), then for each longer n those where
/// every shortest n-gram inside it repeats, since an n-gram that occurs twice repeats all of its
/// parts. Each list is ascending.
struct Candidates {
    let shortest: Int
    /// The largest count of a shortest n-gram and its first position (the earliest of the
    /// n-grams with that count), or (0, 0) when none was counted.
    let mostFrequent: (count: Int32, position: Int)
    /// Ascending positions whose shortest n-gram occurs more than once, and for each how many
    /// such positions follow one another from there.
    private var repeating: [Int32] = [], runs: [Int32] = []

    /// Counts the shortest n-grams at every position, or only at `base`: positions known to
    /// hold every n-gram that can repeat (from a family of shorter n-grams), so the counts of
    /// those that repeat are still exact. One pass: a position is marked when its n-gram was
    /// seen before, and the first occurrence when the second one comes.
    init(repeating shortest: Int, at base: [Int32]? = nil, _ grams: NGramHashes, _ text: TextAnalysis) {
        self.shortest = shortest
        guard grams.words >= shortest else { mostFrequent = (0, 0); return }
        let all = grams.words - shortest + 1
        var repeats = [Bool](repeating: false, count: all)
        var repeating: [Int32] = []
        mostFrequent = repeats.withUnsafeMutableBufferPointer { marks in
            func count(_ positions: some Sequence<Int32>, _ keys: Int) -> (count: Int32, position: Int) {
                let best = text.table.counting(atMost: keys) { table in
                    Candidates.mostFrequent(positions) { table.add(grams.hash(Int($0), shortest), at: $0) } marking: { position, first in
                        marks[Int(position)] = true
                        marks[Int(first)] = true
                    }
                }
                for position in positions where marks[Int(position)] { repeating.append(position) }
                return best
            }
            return base.map { count($0, $0.count) } ?? count(0..<Int32(all), all)
        }
        var runs = [Int32](repeating: 1, count: repeating.count)
        for k in stride(from: repeating.count - 2, through: 0, by: -1) where repeating[k + 1] == repeating[k] + 1 {
            runs[k] = runs[k + 1] + 1
        }
        self.repeating = repeating
        self.runs = runs
    }

    /// Adds the key of each of `positions` (ascending) with `add`, and returns the largest
    /// count and the first position of its key; among keys with the same count, the one first
    /// seen, as `Counter.most_common(1)` picks. `marking` hears each position whose key was seen
    /// before, with that key's first position.
    static func mostFrequent(_ positions: some Sequence<Int32>, add: (Int32) -> (before: Int32, first: Int32),
                             marking: (Int32, Int32) -> Void = { _, _ in }) -> (count: Int32, position: Int) {
        var best: (count: Int32, position: Int) = (0, 0)
        for position in positions {
            let (before, first) = add(position)
            if before > 0 { marking(position, first) }
            let count = before + 1
            if count > best.count || count == best.count && Int(first) < best.position { best = (count, Int(first)) }
        }
        return best
    }

    /// Ascending positions whose n-gram (n >= shortest) may occur more than once.
    func positions(_ n: Int) -> [Int32] {
        let span = Int32(n - shortest)  // further shortest n-grams inside the n-gram
        var result: [Int32] = []
        for k in repeating.indices where runs[k] > span { result.append(repeating[k]) }
        return result
    }
}

/// Hashes of every run of n consecutive words in O(1) each: a polynomial hash over the words'
/// own 64-bit hashes, kept as prefix sums (`prefix[i+n] - prefix[i]·P^n`), then mixed; and
/// prefix sums of the words' characters for the runs' lengths.
struct NGramHashes {
    private let prefix: [UInt64]
    private let powers: [UInt64]
    private let characterPrefix: [Int]
    let words: Int
    private static let base: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(_ text: TextAnalysis, _ ranges: [Range<Int>]) {
        words = ranges.count
        var powers = [UInt64](repeating: 1, count: 17)
        for k in 1...16 { powers[k] = powers[k - 1] &* Self.base }
        self.powers = powers
        let ascii = text.characters == text.bytes.count  // then a word's characters are its bytes
        var prefix = [UInt64](repeating: 0, count: ranges.count + 1)
        var characterPrefix = [Int](repeating: 0, count: ranges.count + 1)
        text.withBytes { s in
            prefix.withUnsafeMutableBufferPointer { hashes in
                characterPrefix.withUnsafeMutableBufferPointer { characters in
                    var h: UInt64 = 0, c = 0
                    for (k, w) in ranges.enumerated() {
                        if w.count < 8 {
                            // A short word: one word of bytes gives both its hash and its characters.
                            let x = s.word(at: w.lowerBound, count: w.count)
                            h = h &* Self.base &+ ByteHash.hash(short: x, count: w.count)
                            c += ascii ? w.count : w.count - UnicodeClasses.continuations(x)
                        } else {
                            h = h &* Self.base &+ ByteHash.hash(s, w)
                            c += ascii ? w.count : UnicodeClasses.count(s, w)
                        }
                        hashes[k + 1] = h
                        characters[k + 1] = c
                    }
                }
            }
        }
        self.prefix = prefix
        self.characterPrefix = characterPrefix
    }

    /// The hash of words i..<i+n (n at most 16).
    @inline(__always)
    func hash(_ i: Int, _ n: Int) -> UInt64 {
        ByteHash.mix(prefix[i + n] &- prefix[i] &* powers[n] &+ UInt64(n))
    }

    /// Characters of words i..<i+n, without separators.
    @inline(__always)
    func characters(_ i: Int, _ n: Int) -> Int { characterPrefix[i + n] - characterPrefix[i] }
}
