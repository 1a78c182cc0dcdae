import Foundation
import XCTest

/// Crafted model and tokenizer files through the `pipe` binary: a clear error (exit code 2),
/// quickly and in bounded memory, never a crash; a megabyte-long word is encoded quickly.
final class HostileModelInputTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    /// GPT-2's printable stand-in for a byte (tokenizer.json's byte-level alphabet).
    static func byteLevel(_ byte: UInt8) -> String {
        func printable(_ b: UInt8) -> Bool { (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b) }
        if printable(byte) { return String(UnicodeScalar(byte)) }
        let rank = (0...255).filter { !printable(UInt8($0)) }.firstIndex(of: Int(byte))!
        return String(UnicodeScalar(UInt32(256 + rank))!)
    }

    /// A byte-level tokenizer.json: `<|endoftext|>` (id 0, listed in added_tokens with
    /// `addedId`), the 256 bytes, then "a" doubled ten times (merges "a a", "aa aa", …).
    func writeTokenizer(addedId: Int64 = 0) throws {
        var vocab: [String: Int] = ["<|endoftext|>": 0]
        for b in 0...255 { vocab[Self.byteLevel(UInt8(b))] = vocab.count }
        var merges: [String] = []
        for k in 0..<10 {
            let half = String(repeating: "a", count: 1 << k)
            merges.append(half + " " + half)
            vocab[half + half] = vocab.count
        }
        let json: [String: Any] = [
            "added_tokens": [["id": addedId, "content": "<|endoftext|>", "special": true]],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true],
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
        ]
        try JSONSerialization.data(withJSONObject: json).write(to: ws.root.appendingPathComponent("tokenizer.json"))
    }

    /// Runs `pipe arguments` twice: for its output, then for its peak memory.
    func assertRefused(_ arguments: [String], containing expected: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let started = Date()
        let output = try ws.run(arguments)
        XCTAssertEqual(output.status, 2, output.stderr, file: file, line: line)
        XCTAssertTrue(output.stderr.contains(expected), output.stderr, file: file, line: line)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10, "refused quickly", file: file, line: line)
        let measured = try ws.runMeasuringPeakMemory(arguments)
        XCTAssertEqual(measured.status, 2, file: file, line: line)
        XCTAssertLessThan(measured.peakKiB, 300 * 1024, "peak RSS of pipe (KiB)", file: file, line: line)
    }

    /// A crafted GGUF v3 file: the header's counts, then whatever the test appends.
    struct GGUFBytes {
        var data = Data("GGUF".utf8)

        init(tensors: UInt64, keys: UInt64) {
            u32(3)
            u64(tensors)
            u64(keys)
        }

        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { data.append(contentsOf: $0) } }
        mutating func string(_ s: String) { u64(UInt64(s.utf8.count)); data.append(contentsOf: Array(s.utf8)) }
    }

    func testGenerateRefusesCraftedGGUFFiles() throws {
        try writeTokenizer()
        let generate = ["generate", "m.gguf", "-t", "tokenizer.json", "--prompt", "a"]
        func check(_ file: GGUFBytes, _ expected: String, line: UInt = #line) throws {
            try (file.data + Data(count: 4096)).write(to: ws.root.appendingPathComponent("m.gguf"))
            try assertRefused(generate, containing: "m.gguf: " + expected, line: line)
        }
        try check(GGUFBytes(tensors: UInt64(Int64.max), keys: 0), "the tensor count is 9223372036854775807")

        var dimension = GGUFBytes(tensors: 1, keys: 0)
        dimension.string("token_embd.weight")
        dimension.u32(2)
        dimension.u64(64)
        dimension.u64(UInt64(Int64.max))
        try check(dimension, "tensor 'token_embd.weight' dimension 1 is 9223372036854775807, more elements than this")

        var array = GGUFBytes(tensors: 0, keys: 1)
        array.string("tokenizer.ggml.tokens")
        array.u32(9)
        array.u32(8)
        array.u64(1 << 40)
        try check(array, "the length of array tokenizer.ggml.tokens is 1099511627776, more than the")
    }

    func testEncodeRefusesAnAddedTokenIdOutsideTheVocabulary() throws {
        try writeTokenizer(addedId: 1 << 40)
        try assertRefused(["encode", "-t", "tokenizer.json", "a<|endoftext|>"],
                          containing: "tokenizer.json: added_tokens[0].id 1099511627776 is outside the vocabulary 0..<267")
    }

    func testEncodingAMegabyteWordIsQuick() throws {
        try writeTokenizer()
        try Data(String(repeating: "a", count: 1 << 20).utf8).write(to: ws.root.appendingPathComponent("a.txt"))
        let started = Date()
        let run = try Workspace.execute("/bin/sh", ["-c", "exec \"$0\" encode -t tokenizer.json < a.txt", Workspace.binary.path], in: ws.root)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        let ids = run.output.split(whereSeparator: { $0 == " " || $0 == "\n" })
        XCTAssertEqual(ids.count, 1024)
        XCTAssertEqual(Set(ids), ["266"])
    }
}
