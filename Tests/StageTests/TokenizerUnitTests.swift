@testable import BPETokenizeStage
@testable import BPETokenizer
import Foundation
import PipeKit
import XCTest

final class PreTokenizerTests: XCTestCase {
    func pieces(_ text: String) -> [String] {
        var text = text
        var result: [String] = []
        text.withUTF8 { b in
            PreTokenizer.split(b) { start, end in result.append(String(decoding: b[start..<end], as: UTF8.self)) }
        }
        return result
    }

    func testGPT2PatternCases() {
        XCTAssertEqual(pieces("Hello world"), ["Hello", " world"])
        XCTAssertEqual(pieces("don't we'll THEY'RE"), ["don", "'t", " we", "'ll", " THEY", "'", "RE"])
        XCTAssertEqual(pieces("a  b"), ["a", " ", " b"])
        XCTAssertEqual(pieces("a\n\nb"), ["a", "\n", "\n", "b"])
        XCTAssertEqual(pieces("a \n b"), ["a", " \n", " b"])
        XCTAssertEqual(pieces("x   "), ["x", "   "])
        XCTAssertEqual(pieces("year 2024!!"), ["year", " 2024", "!!"])
        XCTAssertEqual(pieces("東京 e\u{301}"), ["東京", " e", "\u{301}"])
        XCTAssertEqual(pieces("?'s"), ["?'", "s"])
        XCTAssertEqual(pieces("x\u{3000}y"), ["x", "\u{3000}", "y"])
        XCTAssertEqual(pieces("½²"), ["½²"])
    }

    func testTruncatedUTF8NeverReadsPastTheEnd() {
        let bytes: [UInt8] = [0x61, 0xE6, 0x9D]  // "a" then a cut 3-byte sequence
        var count = 0
        bytes.withUnsafeBufferPointer { PreTokenizer.split($0) { _, _ in count += 1 } }
        XCTAssertGreaterThan(count, 0)
    }
}

final class JSONLineScannerTests: XCTestCase {
    func text(_ line: String) -> String? {
        var out: [UInt8] = []
        var line = line
        let found = line.withUTF8 { JSONLineScanner.stringField("text", in: $0, into: &out) }
        return found ? String(decoding: out, as: UTF8.self) : nil
    }

    func testExtractsTheTopLevelFieldWithEscapes() {
        XCTAssertEqual(text(#"{"id": "1", "meta": {"text": "no"}, "text": "a\"b\\c\nd\u00e9\ud83d\ude00"}"#), "a\"b\\c\nd\u{e9}😀")
        XCTAssertEqual(text(#"{"text":"x","text2":"y"}"#), "x")
        XCTAssertEqual(text(#"{"list": [1, "text", {"a": "}"}], "text": "ok"}"#), "ok")
        XCTAssertEqual(text(#"{"text": "\ud800 lone"}"#), "\u{FFFD} lone")
        XCTAssertNil(text(#"{"id": "1"}"#))
        XCTAssertNil(text(#"not json"#))
        XCTAssertNil(text(#"{"text": 5}"#))
    }

    /// Quotes and backslashes at every offset from the eight-byte blocks the scan reads, in the
    /// field sought and in the fields skipped before it; an unterminated string is no field.
    func testEscapesAtEveryBlockOffsetRoundTrip() throws {
        for length in 0..<24 {
            for position in 0..<max(1, length) {
                var chars = Array(repeating: Character("x"), count: length)
                if length > 0 { chars[position] = position % 2 == 0 ? "\"" : "\\" }
                let value = String(chars)
                let encoded = String(decoding: try JSONSerialization.data(withJSONObject: ["text": value], options: [.withoutEscapingSlashes]), as: UTF8.self)
                XCTAssertEqual(text(encoded), value, encoded)
                XCTAssertEqual(text("{\"skip\": \(encoded.dropFirst(8).dropLast()), \(encoded.dropFirst())"), value)
                XCTAssertNil(text(String(encoded.dropLast(2))), "unterminated: \(encoded.dropLast(2))")
            }
        }
    }
}

final class SplitTests: XCTestCase {
    func testDocumentSplitHasExactSeededCounts() {
        let split = DocumentSplit(count: 1000, fractions: [0.9, 0.05, 0.05], seed: 7)
        let labels = (0..<1000).map(split.split(of:))
        XCTAssertEqual(labels.filter { $0 == 0 }.count, 900)
        XCTAssertEqual(labels.filter { $0 == 1 }.count, 50)
        let again = DocumentSplit(count: 1000, fractions: [0.9, 0.05, 0.05], seed: 7)
        XCTAssertEqual((0..<1000).map(again.split(of:)), labels)
        let other = DocumentSplit(count: 1000, fractions: [0.9, 0.05, 0.05], seed: 8)
        XCTAssertNotEqual((0..<1000).map(other.split(of:)), labels)
    }

    func testSmallCorporaStillGetValidationAndTestDocuments() {
        let split = DocumentSplit(count: 5, fractions: [0.9, 0.05, 0.05], seed: 0)
        XCTAssertEqual(Set((0..<5).map(split.split(of:))), [0, 1, 2])
    }
}

final class TrainerTests: XCTestCase {
    func testMostFrequentPairMergesFirst() throws {
        var counts = BPETrainer.WordCounts()
        for text in ["aaab", "aaab", "ab"] {
            var t = text
            t.withUTF8 { counts.add($0) }
        }
        let model = try BPETrainer(vocabularySize: 259, minFrequency: 1, specialTokens: ["<s>"]).train(counts)
        let first = model.merges[0], second = model.merges[1]
        // "aa" occurs 2x2=4 times, "ab" 3 times: aa first; then (aa, a)=2 vs (a, b)=3.
        XCTAssertEqual(model.tokens[Int(first.result)], Array("aa".utf8))
        XCTAssertEqual(model.tokens[Int(second.result)], Array("ab".utf8))
        XCTAssertEqual(model.tokens.count, 259)
        XCTAssertEqual(model.tokens[0], Array("<s>".utf8))
    }

    func testEqualCountsMergeThePairWithSmallerIdsFirst() throws {
        var counts = BPETrainer.WordCounts()
        for text in ["zw", "xy"] {
            var t = text
            t.withUTF8 { counts.add($0) }
        }
        let model = try BPETrainer(vocabularySize: 259, minFrequency: 1, specialTokens: ["<s>"]).train(counts)
        XCTAssertEqual(model.merges.map { model.tokens[Int($0.result)] }, [Array("xy".utf8), Array("zw".utf8)])
    }
}
