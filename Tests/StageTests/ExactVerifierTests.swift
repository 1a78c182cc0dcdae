import CMinHash
import Foundation
@testable import MinHashDedupStage
import PipeKit
import XCTest

/// minhash-dedup's exact Jaccard check of LSH candidates: the set sort, the Jaccard of two
/// sets, and the blocked passes that bound its memory.
final class ExactVerifierTests: XCTestCase {
    func testSortedSetMatchesSortingAndDroppingRepeats() {
        var rng = SplitMix64(seed: 7)
        for count in [0, 1, 2, 17, 255, 256, 1000] {
            // Few distinct values so repeats are common, with high bytes set so every radix pass matters.
            var values = (0..<count).map { _ in UInt32(truncatingIfNeeded: rng.next() % 300) &* 0x0101_0101 }
            let expected = Array(Set(values)).sorted()
            var scratch = [UInt32](repeating: 0, count: count)
            let kept = cminhash_sorted_set(&values, &scratch, count)
            XCTAssertEqual(Array(values[..<kept]), expected, "\(count) values")
        }
    }

    func testJaccardOfSortedSets() {
        XCTAssertEqual(ExactVerifier.jaccard([1, 2, 3, 4], [3, 4, 5, 6]), 2.0 / 6.0)
        XCTAssertEqual(ExactVerifier.jaccard([1, 2], [1, 2]), 1)
        XCTAssertEqual(ExactVerifier.jaccard([1], [2]), 0)
        XCTAssertEqual(ExactVerifier.jaccard([], []), 1)
        XCTAssertEqual(ExactVerifier.jaccard([], [5]), 0)
    }

    func testBlocksSplitByTheFirstDocumentsCost() {
        let pairs = [CandidatePair(0, 5), CandidatePair(0, 9), CandidatePair(1, 2), CandidatePair(3, 4), CandidatePair(6, 7)].sorted()
        // Each first document costs 10: a budget of 20 holds two of them.
        XCTAssertEqual(ExactVerifier.blocks(pairs, cost: { _ in 10 }, budget: 20), [0..<3, 3..<5])
        XCTAssertEqual(ExactVerifier.blocks(pairs, cost: { _ in 10 }, budget: 1000), [0..<5])
        XCTAssertEqual(ExactVerifier.blocks(pairs, cost: { _ in 50 }, budget: 20).count, 4, "one document over budget is a block of its own")
        XCTAssertEqual(ExactVerifier.blocks([], cost: { _ in 1 }, budget: 1), [])
    }

    /// Pairs of known Jaccard across three shards: the same verdicts in one pass or, with a budget
    /// too small for more than one document, in one pass per first document.
    func testVerdictsFollowTheThresholdWhateverTheBudget() throws {
        let words = (0..<60).map { "w\(Character(UnicodeScalar(97 + $0 % 26)!))\(String(repeating: "q", count: $0 / 26))" }
        func text(_ range: Range<Int>) -> String { words[range].joined(separator: " ") }
        // Single-word shingles: Jaccard is the share of common words.
        let documents = [text(0..<40), text(0..<40), text(0..<20) + " " + text(40..<60),
                         text(10..<50), "unrelated words only here", text(0..<39)]
        let shards = [[0, 1], [2, 3], [4, 5]].map { ids -> DocumentLines in
            let lines = ids.map { #"{"id":"d\#($0)","text":"\#(documents[$0])"}"# }.joined(separator: "\n")
            return DocumentLines(Data(lines.utf8))
        }
        let pairs = [CandidatePair(0, 1), CandidatePair(0, 2), CandidatePair(0, 3), CandidatePair(1, 4),
                     CandidatePair(2, 5), CandidatePair(0, 5), CandidatePair(3, 5)].sorted()
        let expected: [CandidatePair: Bool] = [
            CandidatePair(0, 1): true,   // 1
            CandidatePair(0, 2): false,  // 20 / 60
            CandidatePair(0, 3): true,   // 30 / 50
            CandidatePair(1, 4): false,  // 0
            CandidatePair(2, 5): false,  // 20 / 59
            CandidatePair(0, 5): true,   // 39 / 40
            CandidatePair(3, 5): true,   // 29 / 50
        ]
        let hasher = MinHasher(permutations: 8, ngram: 1, characters: false, seed: 1)
        let lengths = documents.map(\.utf8.count)
        for budget in [1 << 20, 1] {
            let verifier = ExactVerifier(hasher: hasher, normalize: true, threshold: 0.55, budgetBytes: budget)
            var fractions: [Double] = []
            let (verdicts, passes) = try verifier.verify(pairs, lengths: lengths, shards: ["a", "b", "c"], threads: 2,
                                                         read: { shards[["a", "b", "c"].firstIndex(of: $0)!] },
                                                         progress: { fraction, _ in fractions.append(fraction) })
            XCTAssertEqual(fractions, fractions.sorted(), "progress only goes forward")
            XCTAssertLessThanOrEqual(fractions.last ?? 0, 1)
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: zip(pairs, verdicts)), expected, "budget \(budget)")
            XCTAssertEqual(passes, budget == 1 ? 4 : 1, "first documents 0, 1, 2, 3: one pass each when only one fits")
        }
    }
}
