@testable import BPETokenizeStage
@testable import BPETokenizer
import Foundation
import PipeKit
import XCTest

/// Crafted tokenizer.json files get an error naming the file and the field; a megabyte-long
/// pre-token is encoded and trained on in near-linear time, with the same ids as before.
final class HostileTokenizerFileTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("hostile-tokenizer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    /// Seeded text: words of one to `longest` letters from `letters`, separated by spaces.
    static func randomText(words: Int, longest: Int, letters: String = "abcd", seed: UInt64) -> String {
        var rng = SplitMix64(seed: seed)
        let alphabet = Array(letters)
        return (0..<words).map { _ in
            String((0...Int(rng.next() % UInt64(longest))).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }.joined(separator: " ")
    }

    static func train(_ text: String, vocabulary: Int) throws -> BPEModel {
        var counts = BPETrainer.WordCounts()
        var text = text
        text.withUTF8 { counts.add($0) }
        return try BPETrainer(vocabularySize: vocabulary, minFrequency: 1, specialTokens: ["<|endoftext|>"]).train(counts)
    }

    /// A tokenizer.json of a small trained model, its JSON edited by `edit`.
    func tokenizerFile(_ edit: (inout [String: Any]) -> Void) throws -> URL {
        let url = folder.appendingPathComponent("tokenizer.json")
        try TokenizerFile.write(try Self.train(Self.randomText(words: 200, longest: 6, seed: 1), vocabulary: 300), to: url)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
        edit(&json)
        try JSONSerialization.data(withJSONObject: json).write(to: url)
        return url
    }

    func assertRefused(_ url: URL, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try Tokenizer(contentsOf: url), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json: " + expected), "\(error)", file: file, line: line)
        }
    }

    func added(_ entries: [(id: Any, content: String)]) -> (inout [String: Any]) -> Void {
        { json in json["added_tokens"] = entries.map { ["id": $0.id, "content": $0.content, "special": true] } }
    }

    func testAddedTokenIdsOutOfRangeDuplicateOrNotTheVocabularysAreRefused() throws {
        let cases: [([(id: Any, content: String)], String)] = [
            ([(-1, "<|endoftext|>")], "added_tokens[0].id -1 is outside the vocabulary 0..<300"),
            ([(1 << 40, "<|endoftext|>")], "added_tokens[0].id 1099511627776 is outside the vocabulary 0..<300"),
            ([(300, "<|endoftext|>")], "added_tokens[0].id 300 is outside the vocabulary 0..<300"),
            ([(0, "<|endoftext|>"), (0, "<|endoftext|>")], "added_tokens[1].id 0 is also the id of added_tokens[0]"),
            ([(5, "<|endoftext|>")], "added_tokens[0] \"<|endoftext|>\" has id 5, but model.vocab gives it 0"),
            ([(7, "<|pad|>")], "added_tokens[0] \"<|pad|>\" has id 7, but model.vocab gives it no id"),
            ([("0", "<|endoftext|>")], "added_tokens[0] needs an integer id and a string content"),
        ]
        for (entries, expected) in cases { assertRefused(try tokenizerFile(added(entries)), expected) }
        XCTAssertEqual(try Tokenizer(contentsOf: tokenizerFile(added([(0, "<|endoftext|>")]))).encode("<|endoftext|>"), [0])
    }

    func testVocabularyGivingOneIdTwiceIsRefused() throws {
        let url = try tokenizerFile { json in
            var model = json["model"] as! [String: Any], vocab = model["vocab"] as! [String: Any]
            vocab["Ā"] = vocab["ā"]
            model["vocab"] = vocab
            json["model"] = model
        }
        assertRefused(url, "model.vocab gives the id")
    }

    func testOversizedFileIsRefusedBeforeReading() throws {
        let url = folder.appendingPathComponent("tokenizer.json")
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: UInt64(TokenizerFile.maxFileBytes + 1))
        try handle.close()
        assertRefused(url, "33554433 bytes; tokenizer files over 33554432 bytes are refused")
    }

    func testFileOfMillionsOfTinyValuesIsRefusedBeforeParsing() throws {
        let url = folder.appendingPathComponent("tokenizer.json")
        var text = "{\"x\": ["
        text += String(repeating: "0,", count: 5_000_000)
        text += "0], \"model\": {\"type\": \"BPE\", \"vocab\": {}}}"
        try Data(text.utf8).write(to: url)
        let started = Date()
        assertRefused(url, "about 5000006 JSON values; tokenizer files with over 4194304 are refused")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5)
    }

    // MARK: long pre-tokens

    /// The heap-based merge gives exactly the scan's tokens, on words short and long.
    func testQueueMergesLikeTheScanOnRandomWords() throws {
        let model = try Self.train(Self.randomText(words: 3000, longest: 40, letters: "abcde", seed: 2), vocabulary: 800)
        var rng = SplitMix64(seed: 9)
        let letters = Array("abcdexy ".utf8)
        for _ in 0..<400 {
            let length = 1 + Int(rng.next() % 300)
            let word = (0..<length).map { _ in rng.next() % 5 == 0 ? letters[Int(rng.next() % 8)] : letters[Int(rng.next() % 2)] }
            var scan: [Int32] = [], queue: [Int32] = []
            word.withUnsafeBufferPointer { model.encodeWordByScan($0, into: &scan) }
            word.withUnsafeBufferPointer { model.encodeWordByQueue($0, into: &queue) }
            XCTAssertEqual(queue, scan, String(decoding: word, as: UTF8.self))
        }
    }

    func testEncodingALongWordIsFast() throws {
        let model = try Self.train(String(repeating: "a", count: 5000) + " " + Self.randomText(words: 500, longest: 8, seed: 3), vocabulary: 320)
        let tokenizer = Encoder(model: model)
        // A quarter megabyte in a debug build; the scan took over four minutes on a megabyte of
        // random letters in a release build.
        for text in [String(repeating: "a", count: 1 << 18), Self.randomText(words: 1, longest: 1 << 18, letters: "abcdefghijklmnopqrstuvwxyz", seed: 4)] {
            let started = Date()
            var ids: [Int32] = []
            tokenizer.encode(text, into: &ids)
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, "encoding \(text.utf8.count) bytes")
            XCTAssertEqual(try model.decode(ids), text)
        }
    }

    func testTrainingOnAMegabyteLongWordIsFast() throws {
        for text in [String(repeating: "a", count: 1 << 20), Self.randomText(words: 1, longest: 1 << 20, letters: "abcdefghijklmnopqrstuvwxyz", seed: 5)] {
            let started = Date()
            let model = try Self.train(text, vocabulary: 257 + 1000)
            XCTAssertLessThan(Date().timeIntervalSince(started), 20, "training on \(text.utf8.count) bytes")
            XCTAssertGreaterThan(model.merges.count, 15)
        }
    }

    /// The trainer's merges on a seeded corpus of short and long words, as a digest: the value
    /// the word-scanning trainer this one replaced gave (and Hugging Face's `BpeTrainer` follows).
    func testTrainingGivesTheSameMergesAsBefore() throws {
        var text = Self.randomText(words: 20000, longest: 12, letters: "abcab", seed: 6)
        text += " " + Self.randomText(words: 30, longest: 3000, letters: "abcdefab", seed: 7)
        text += " " + String(repeating: "ab", count: 4000) + " " + String(repeating: "a", count: 3001)
        let model = try Self.train(text, vocabulary: 1500)
        var digest: UInt64 = 0xcbf29ce484222325
        for m in model.merges {
            for v in [m.left, m.right, m.result] { digest = (digest ^ UInt64(UInt32(bitPattern: v))) &* 0x100000001b3 }
        }
        XCTAssertEqual(model.merges.count, 1243)
        XCTAssertEqual(digest, 6_301_814_331_183_716_377)
    }
}
