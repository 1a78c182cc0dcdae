/// Gopher's repetition rules (Rae et al. 2021, table A1; as datatrove's
/// `GopherRepetitionFilter`): repeated paragraphs and lines (by count and by characters), the
/// most frequent 2-4-gram's share of the characters, and the share of characters in repeated
/// 5-10-grams.
struct GopherRepetitionFilter: QualityFilter {
    struct Settings: Decodable, Sendable {
        var dup_line_frac: Double
        var dup_para_frac: Double
        var dup_line_char_frac: Double
        var dup_para_char_frac: Double
        /// n -> largest share of characters in the most frequent n-gram.
        var top_n_grams: [String: Double]
        /// n -> largest share of characters in repeated n-grams.
        var dup_n_grams: [String: Double]
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
        let top = p.top_n_grams.map { (Int($0.key)!, $0.value) }.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
        // An n-gram can only repeat where its first n0 words (n0 <= n) repeat too: positions whose
        // shortest n-gram occurs once are left out of the longer passes.
        var candidates = top.first.map { repeatedPositions($0.0, grams, text) } ?? []
        for (n, limit) in top where words.count >= n {
            let share = Double(topNGramCharacters(n, grams, candidates, text)) / length
            if share > limit { return .drop("top_\(n)_gram: \(rounded(share)) of characters in the most frequent \(n)-gram") }
        }
        let duplicated = p.dup_n_grams.map { (Int($0.key)!, $0.value) }.filter { $0.1 > 0 }.sorted { $0.0 < $1.0 }
        candidates = duplicated.first.map { repeatedPositions($0.0, grams, text) } ?? []
        for (n, limit) in duplicated {
            let share = Double(repeatedNGramCharacters(n, grams, candidates, text)) / length
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
            guard s[i] == 0x0A else { i += 1; continue }
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
                for part in parts where table.add(ByteHash.hash(s, part)) > 0 {
                    repeats += 1
                    characters += UnicodeClasses.count(s, part)
                }
            }
        }
        return (repeats, characters)
    }

    /// For each position, whether the n-gram starting there occurs more than once.
    private func repeatedPositions(_ n: Int, _ grams: NGramHashes, _ text: TextAnalysis) -> [Bool] {
        guard grams.words >= n else { return [] }
        let positions = grams.words - n + 1
        return text.table.counting(atMost: positions) { table in
            for i in 0..<positions { _ = table.add(grams.hash(i, n)) }
            return (0..<positions).map { table.count(of: grams.hash($0, n)) > 1 }
        }
    }

    /// Characters of the most frequent n-gram (words joined by spaces) times its count; among
    /// equally frequent n-grams the first seen wins, as with `Counter.most_common(1)`. Only
    /// `candidates` can occur more than once; when none does, the first n-gram wins with 1.
    private func topNGramCharacters(_ n: Int, _ grams: NGramHashes, _ candidates: [Bool], _ text: TextAnalysis) -> Int {
        let last = grams.words - n
        text.table.counting(atMost: last + 1) { table in
            for i in 0...last where candidates[i] { _ = table.add(grams.hash(i, n), position: i) }
        }
        var (count, winner) = text.table.mostFrequent()
        if count <= 1 { (count, winner) = (1, 0) }
        let span = grams.characters(winner, n) + (n - 1)
        return span * Int(count)
    }

    /// Characters in n-grams (words joined without spaces) that repeat an earlier one, scanning
    /// forward and jumping past each repeat. Positions outside `candidates` start n-grams that
    /// occur once, so they are passed over without counting.
    private func repeatedNGramCharacters(_ n: Int, _ grams: NGramHashes, _ candidates: [Bool], _ text: TextAnalysis) -> Int {
        guard grams.words >= n else { return 0 }
        return text.table.counting(atMost: grams.words - n + 1) { table in
            var repeated = 0, i = 0
            while i + n <= grams.words {
                if candidates[i], table.add(grams.hash(i, n)) > 0 {
                    repeated += grams.characters(i, n)
                    i += n
                } else {
                    i += 1
                }
            }
            return repeated
        }
    }
}

/// Hashes of every run of n consecutive words in O(1) each: a polynomial hash over the words'
/// own 64-bit hashes, kept as prefix sums (`prefix[i+n] - prefix[i]·P^n`), then mixed; and
/// prefix sums of the words' characters for the runs' lengths.
struct NGramHashes {
    private var prefix: [UInt64]
    private var powers: [UInt64]
    private var characterPrefix: [Int]
    let words: Int
    private static let base: UInt64 = 0x9E37_79B9_7F4A_7C15

    init(_ text: TextAnalysis, _ ranges: [Range<Int>]) {
        words = ranges.count
        prefix = [UInt64](repeating: 0, count: ranges.count + 1)
        characterPrefix = [Int](repeating: 0, count: ranges.count + 1)
        powers = [1]
        var p: UInt64 = 1
        for _ in 0..<16 { p = p &* Self.base; powers.append(p) }
        text.withBytes { s in
            for (k, w) in ranges.enumerated() {
                prefix[k + 1] = prefix[k] &* Self.base &+ ByteHash.hash(s, w)
                characterPrefix[k + 1] = characterPrefix[k] + UnicodeClasses.count(s, w)
            }
        }
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
