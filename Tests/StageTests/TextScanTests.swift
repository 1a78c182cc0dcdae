@testable import CleanStage
import CTextScan
import PipeKit
import XCTest

/// The byte-level helpers under the word splitter: runs of plain ASCII words found 32 bytes at
/// a time, and character counts eight bytes at a time, each against a plain definition.
final class TextScanTests: XCTestCase {
    /// Random text of plain words, words with a letter after a digit, punctuation, multi-byte
    /// characters, long words and runs of white space, so pieces cross every 32-byte boundary.
    private func randomText(_ rng: inout SplitMix64, words: Int) -> [UInt8] {
        let pieces = ["the", "River", "x", "42", "7b", "b7", "a1b", "don't", "(see", "end.", "é", "naïve", "日本",
                      String(repeating: "long", count: 10), String(repeating: "9", count: 40), "\u{0}", "~"]
        let spaces = [" ", " ", " ", "  ", "\n", "\t", "\r\n", "\u{1C}", " \u{0B} "]
        var text = ""
        for _ in 0..<words {
            text += pieces[Int(rng.next() % UInt64(pieces.count))]
            text += spaces[Int(rng.next() % UInt64(spaces.count))]
        }
        return Array(text.utf8)
    }

    /// The rule by definition: ASCII pieces of letters and digits with no letter after a digit.
    private func referenceRun(_ s: [UInt8], from start: Int) -> (words: [Range<Int>], stop: Int) {
        func isSpace(_ b: UInt8) -> Bool { (0x09...0x0D).contains(b) || (0x1C...0x20).contains(b) }
        var words: [Range<Int>] = [], i = start
        while true {
            while i < s.count, isSpace(s[i]) { i += 1 }
            guard i < s.count else { return (words, i) }
            var j = i
            while j < s.count, !isSpace(s[j]) { j += 1 }
            let piece = s[i..<j]
            let allAlnum = piece.allSatisfy { $0 < 0x80 && (Character(UnicodeScalar($0)).isLetter || Character(UnicodeScalar($0)).isNumber) }
            let firstDigit = piece.firstIndex { (0x30...0x39).contains($0) }
            let letterAfterDigit = firstDigit.map { d in s[d..<j].contains { Character(UnicodeScalar($0)).isLetter } } ?? false
            guard allAlnum, !letterAfterDigit else { return (words, i) }
            words.append(i..<j)
            i = j
        }
    }

    func testPlainWordRunsMatchTheDefinition() {
        var rng = SplitMix64(seed: 3)
        let bounds = UnsafeMutablePointer<Int64>.allocate(capacity: 2 * 4096)
        defer { bounds.deallocate() }
        for round in 0..<300 {
            let s = randomText(&rng, words: 1 + round % 60)
            let start = Int(rng.next() % UInt64(s.count))
            let expected = referenceRun(s, from: start)
            var stop = 0
            let found = s.withUnsafeBufferPointer { ctextscan_plain_words($0.baseAddress, start, $0.count, bounds, 4096, &stop) }
            let words = (0..<found).map { Int(bounds[2 * $0])..<Int(bounds[2 * $0 + 1]) }
            XCTAssertEqual(words, expected.words, "round \(round) from \(start)")
            XCTAssertEqual(stop, expected.stop, "round \(round) from \(start)")
        }
    }

    func testARunStopsWhenItsBufferIsFullAndGoesOnFromThere() {
        let s = Array(String(repeating: "word ", count: 100).utf8)
        let bounds = UnsafeMutablePointer<Int64>.allocate(capacity: 2 * 7)
        defer { bounds.deallocate() }
        var all: [Range<Int>] = [], start = 0, stop = 0
        repeat {
            let found = s.withUnsafeBufferPointer { ctextscan_plain_words($0.baseAddress, start, $0.count, bounds, 7, &stop) }
            XCTAssertLessThanOrEqual(found, 7)
            all += (0..<found).map { Int(bounds[2 * $0])..<Int(bounds[2 * $0 + 1]) }
            start = stop
        } while stop < s.count
        XCTAssertEqual(all, (0..<100).map { (5 * $0)..<(5 * $0 + 4) })
    }

    func testTheShortWordHashIsTheByteRangeHash() {
        let s = Array("a bc déf ghij klmno pqrstu vwxyz12 345678901".utf8)
        for start in 0..<s.count {
            for end in start..<min(s.count, start + 7) where start + 8 <= s.count {
                let x = s.withUnsafeBufferPointer { UnsafeRawPointer($0.baseAddress! + start).loadUnaligned(as: UInt64.self) }
                    & (end == start ? 0 : UInt64.max >> UInt64(64 - 8 * (end - start)))
                XCTAssertEqual(ByteHash.hash(short: x, count: end - start), s.withUnsafeBufferPointer { ByteHash.hash($0, start..<end) })
            }
        }
    }

    func testCharacterCountsAreUnicodeScalars() {
        var rng = SplitMix64(seed: 5)
        for round in 0..<300 {
            let s = randomText(&rng, words: 1 + round % 20)
            let a = Int(rng.next() % UInt64(s.count)), b = Int(rng.next() % UInt64(s.count + 1))
            var range = min(a, b)..<max(a, b)
            // Ranges on scalar boundaries, as the callers' are.
            while range.lowerBound > 0, s[range.lowerBound] & 0xC0 == 0x80 { range = (range.lowerBound - 1)..<range.upperBound }
            while range.upperBound < s.count, s[range.upperBound] & 0xC0 == 0x80 { range = range.lowerBound..<(range.upperBound + 1) }
            let expected = String(decoding: s[range], as: UTF8.self).unicodeScalars.count
            XCTAssertEqual(s.withUnsafeBufferPointer { UnicodeClasses.count($0, range) }, expected, "round \(round) \(range)")
        }
    }
}

/// The word splitter's memory of split pieces.
final class PieceSplitsTests: XCTestCase {
    func testARememberedPieceIsFoundAtAnyOffsetWithItsWords() {
        let splits = PieceSplits()
        // "(foo)" at 10..<15 split into "(", "foo", ")".
        splits.remember(10..<15, hash: 42, [10..<11, 11..<14, 14..<15])
        var words: [Range<Int>] = [0..<3]
        XCTAssertTrue(splits.lookup(100..<105, hash: 42, into: &words))
        XCTAssertEqual(words, [0..<3, 100..<101, 101..<104, 104..<105], "appended, moved to the new place")
        XCTAssertFalse(splits.lookup(100..<106, hash: 42, into: &words), "same hash, other length: not the same piece")
        XCTAssertFalse(splits.lookup(100..<105, hash: 43, into: &words))
        XCTAssertEqual(words.count, 4)
    }

    func testPiecesOfManyWordsOrBytesAreNotKept() {
        let splits = PieceSplits()
        var words: [Range<Int>] = []
        splits.remember(0..<24, hash: 1, (0..<12).map { (2 * $0)..<(2 * $0 + 1) }[...])
        XCTAssertFalse(splits.lookup(0..<24, hash: 1, into: &words), "12 words: more than an entry holds")
        splits.remember(0..<65, hash: 2, [0..<65])
        XCTAssertFalse(splits.lookup(0..<65, hash: 2, into: &words), "longer than 64 bytes")
        splits.remember(0..<22, hash: 3, (0..<11).map { (2 * $0)..<(2 * $0 + 1) }[...])
        XCTAssertTrue(splits.lookup(0..<22, hash: 3, into: &words))
        XCTAssertEqual(words.count, 11)
    }
}
