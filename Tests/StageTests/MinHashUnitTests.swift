import CMinHash
@testable import MinHashDedupStage
import PipeKit
import XCTest

/// minhash-dedup's text simplification, word shingling and signature kernel on hand-made cases.
final class MinHashUnitTests: XCTestCase {
    private func simplified(_ text: String) -> String {
        let simplifier = TextSimplifier()
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBufferPointer { String(decoding: simplifier.simplify(UnsafeBufferPointer($0)), as: UTF8.self) }
    }

    func testSimplifyLowercasesAndTurnsPunctuationIntoSingleSpaces() {
        XCTAssertEqual(simplified("Hello, World!"), "hello world")
        XCTAssertEqual(simplified("  (foo)bar--baz...  "), "foo bar baz")
        XCTAssertEqual(simplified("a\t\n\r b"), "a b")
        XCTAssertEqual(simplified("x+y=$z"), "x+y=$z", "symbols are not punctuation")
        XCTAssertEqual(simplified("!!!"), "")
        XCTAssertEqual(simplified(""), "")
    }

    func testSimplifyTurnsNumbersIntoZero() {
        XCTAssertEqual(simplified("pi is 3.14159, e is 2.718."), "pi is 0 e is 0")
        XCTAssertEqual(simplified("v2 build 1234 at 10.0.0.1"), "v0 build 0 at 0 0", "10.0 and 0.1: one decimal point per number")
        XCTAssertEqual(simplified("٣٤ and ४२"), "0 and 0", "Unicode decimal digits")
    }

    func testSimplifyDropsDiacriticsAndKeepsOtherScripts() {
        XCTAssertEqual(simplified("Café NAÏVE Ångström"), "cafe naive angstrom")
        XCTAssertEqual(simplified("Straße «quoted» — dash"), "straße quoted dash")
        XCTAssertEqual(simplified("日本語、テキスト。"), "日本語 テキスト")
        XCTAssertEqual(simplified("Ελληνικά, κείμενο"), "ελληνικα κειμενο")
        XCTAssertEqual(simplified("é!"), "e", "no trailing space after a Unicode run")
        XCTAssertEqual(simplified("a\u{0}b"), "a\u{0}b", "NUL is kept like other control bytes")
    }

    /// The simplification of a whole non-ASCII run at once (lowercase the run, decompose it,
    /// then the same rules), which the simplifier's per-character pieces must equal.
    private func simplifiedAsOneRun(_ text: String) -> String {
        var out = "", inNumber = false, last: Character = " "
        func put(_ c: Character) { if c != " " || last != " " { out.append(c) }; last = c }
        for scalar in text.lowercased().decomposedStringWithCanonicalMapping.unicodeScalars {
            let p = scalar.properties
            if p.numericType == .decimal { if !inNumber { put("0") }; inNumber = true; continue }
            inNumber = false
            if p.isWhitespace { put(" "); continue }
            switch p.generalCategory {
            case .nonspacingMark, .enclosingMark, .spacingMark: continue
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation: put(" ")
            default: put(Character(scalar))
            }
        }
        return out.hasSuffix(" ") ? String(out.dropLast()) : out
    }

    func testNonASCIICharactersSimplifyAsWholeRunsDo() {
        let alphabet = Array("ΟΔΟΣ σς İıŞ Ǆǅ Åå Ǻ é ñ ﬁ ß Ǳ ᾼ ẞ ٣٤ ४२ ¶ — “” ’ … \u{A0} \u{2003} 日本語 한국어 ผ่าน ק̈ a\u{301}\u{327} Ⅻ ½ ﹏ ・")
        var rng = SplitMix64(seed: 11)
        for round in 0..<400 {
            // Runs of non-ASCII characters only: the ASCII path is not what this checks.
            let run = String((0..<(1 + round % 12)).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] }.filter { !$0.isASCII })
            XCTAssertEqual(simplified(run), simplifiedAsOneRun(run), "\(run.unicodeScalars.map { String($0.value, radix: 16) })")
        }
        XCTAssertEqual(simplified("ΟΔΟΣ"), "οδοσ", "no final sigma, as Swift lowercases")
    }

    func testLongTextsGrowTheBuffer() {
        let word = "Überraschung "
        let text = String(repeating: word, count: 20_000)
        XCTAssertEqual(simplified(text), String(repeating: "uberraschung ", count: 20_000).dropLast().description)
    }

    private func words(_ text: String) -> [UInt64] {
        let bytes = Array(text.utf8)
        var out = [UInt64](repeating: 0, count: (bytes.count + 1) / 2 + 1)
        let n = cminhash_words(bytes, bytes.count, &out)
        return Array(out[..<n])
    }

    private func hash(_ text: String) -> UInt64 { let b = Array(text.utf8); return cminhash_bytes(b, b.count) }

    func testWordsAreFoundAtEveryPositionOfTheEightByteScan() {
        // Words of 1 to 20 bytes at shifting offsets, including spaces on chunk boundaries.
        for length in 1...20 {
            for lead in 0..<9 {
                let word = String(repeating: "w", count: length)
                let text = String(repeating: " ", count: lead) + [word, "ab", word, "c"].joined(separator: "  ")
                XCTAssertEqual(words(text), [hash(word), hash("ab"), hash(word), hash("c")], "length \(length), lead \(lead)")
            }
        }
        XCTAssertEqual(words(""), [])
        XCTAssertEqual(words("   "), [])
    }

    func testByteHashSeparatesLengthsAndContents() {
        var seen = Set<UInt64>()
        for text in ["", "a", "a\u{0}", "aa", "ab", "ba", "abcdefg", "abcdefgh", "abcdefgh\u{0}", "abcdefghi", "bcdefghi"] {
            XCTAssertTrue(seen.insert(hash(text)).inserted, "collision for \(text.debugDescription)")
        }
    }

    func testWordShinglesSlideOverNWords() {
        let hasher = MinHasher(permutations: 16, ngram: 3, characters: false, seed: 1)
        let scratch = ShingleScratch()
        func shingles(_ text: String) -> [UInt32] {
            let bytes = Array(text.utf8)
            let n = bytes.withUnsafeBufferPointer { hasher.shingles($0, into: scratch) }
            return Array(UnsafeBufferPointer(start: scratch.shingles, count: n))
        }
        XCTAssertEqual(shingles("a b c d e").count, 3)
        XCTAssertEqual(shingles("a b").count, 1, "a text shorter than n words is one shingle")
        XCTAssertEqual(shingles("").count, 0)
        XCTAssertEqual(Array(shingles("x a b c d").dropFirst()), Array(shingles("a b c d y").dropLast()), "shared windows hash alike")
    }

    /// The AVX2 kernel (eight permutations per step, in a shuffled order) equals the plain
    /// definition ((a·x + b) mod 2^64) >> 32 for every permutation, including a tail of fewer than eight.
    func testSignatureKernelMatchesTheDefinition() {
        var rng = SplitMix64(seed: 7)
        for permutations in [1, 8, 13, 112, 130] {
            let a = (0..<permutations).map { _ in rng.next() | 1 }, b = (0..<permutations).map { _ in rng.next() }
            for count in [1, 3, 4, 9, 150] {
                let shingles = (0..<count).map { _ in UInt32(truncatingIfNeeded: rng.next()) }
                var signature = [UInt32](repeating: .max, count: permutations)
                cminhash_update(shingles, count, a, b, &signature, permutations)
                let expected = (0..<permutations).map { i -> UInt32 in
                    var least = UInt32.max
                    for x in shingles {
                        let product: UInt64 = a[i] &* UInt64(x) &+ b[i]
                        least = min(least, UInt32(product >> 32))
                    }
                    return least
                }
                XCTAssertEqual(signature, expected, "\(permutations) permutations, \(count) shingles, kernel \(MinHasher.kernel)")
            }
        }
    }
}
