import Foundation
import XCTest

/// bpe-tokenize against Hugging Face `tokenizers` (from .venv/, which scripts/test creates).
final class TokenizerTests: XCTestCase {
    static let python: String = ProcessInfo.processInfo.environment["PIPE_PYTHON"]
        ?? Workspace.repository.appendingPathComponent(".venv/bin/python").path

    var ws: Workspace!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.python) else {
            XCTFail("no Python with the reference packages at \(Self.python): run scripts/test, which creates .venv/")
            throw XCTSkip("reference Python missing")
        }
        ws = try Workspace()
        try ws.write("stages/corpus/stage.yaml", """
        name: corpus
        version: 1
        run: [sh, -c, 'cp "$PIPE_WORKSPACE/corpus.jsonl" "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"']
        outputs:
          documents: {kind: documents}
        external: []

        """)
    }

    override func tearDown() { ws?.remove() }

    func python(_ arguments: [String]) throws -> (status: Int32, output: String) {
        try Workspace.execute(Self.python, arguments, in: ws.root)
    }

    func manifest(vocab: Int, splitBy: String = "document") -> String {
        """
        version: 1
        name: tok
        stages:
          docs:
            uses: ./stages/corpus
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: docs.documents}
            with: {vocab_size: \(vocab), split_by: \(splitBy), shard_tokens: 500000}
            publish: {tokenizer: out/tokenizer/, tokens: out/tokens/}

        """
    }

    func testIdsAndTrainedVocabularyMatchHuggingFaceOnTenMegabytesOfHardText() throws {
        let scripts = Workspace.repository.appendingPathComponent("tests-python").path
        let corpus = try python([scripts + "/make_tokenizer_corpus.py", "corpus.jsonl"])
        XCTAssertEqual(corpus.status, 0, corpus.output)
        let size = try FileManager.default.attributesOfItem(atPath: ws.root.appendingPathComponent("corpus.jsonl").path)[.size] as! Int
        XCTAssertGreaterThan(size, 10_000_000)
        try ws.write("t.yaml", manifest(vocab: 8192))
        let run = try ws.run(["run", "t.yaml"])
        XCTAssertEqual(run.status, 0, run.stderr)

        let parity = try python([scripts + "/tokenizer_parity.py", "corpus.jsonl", "out/tokenizer", "out/tokens", "--train-compare", "8192", "2"])
        XCTAssertEqual(parity.status, 0, parity.output)
        XCTAssertTrue(parity.output.contains("identical vocab: True; identical merges: True"), parity.output)
        XCTAssertTrue(parity.output.hasSuffix(" passed, 0 failed\n"), parity.output)
    }

    func testOutputIsIdenticalWhateverTheThreadCountAndReusesAGivenTokenizer() throws {
        let scripts = Workspace.repository.appendingPathComponent("tests-python").path
        XCTAssertEqual(try python([scripts + "/make_tokenizer_corpus.py", "corpus.jsonl", "--hard-only"]).status, 0)
        try ws.write("t.yaml", manifest(vocab: 1000))
        func ids(_ cache: String, _ threads: String) throws -> [String: String] {
            let run = try ws.run(["run", "t.yaml", "--cache", cache, "--threads", threads])
            XCTAssertEqual(run.status, 0, run.stderr)
            let show = try ws.run(["show", "t.yaml", "tokenize", "--json", "--cache", cache]).json as! [String: Any]
            return (show["outputs"] as! [String: [String: Any]]).mapValues { $0["id"] as! String }
        }
        let one = try ids("cache-1", "1"), two = try ids("cache-2", "2")
        XCTAssertEqual(one, two)

        // Reuse the published tokenizer instead of training: the same tokens come out.
        try ws.write("r.yaml", manifest(vocab: 1000).replacingOccurrences(
            of: "with: {vocab_size: 1000,", with: "with: {tokenizer: out/tokenizer/tokenizer.json,")
            .replacingOccurrences(of: "publish: {tokenizer: out/tokenizer/, tokens: out/tokens/}", with: "publish: {tokens: out/reused/}"))
        XCTAssertEqual(try ws.run(["run", "r.yaml"]).status, 0)
        XCTAssertEqual(try Data(contentsOf: ws.root.appendingPathComponent("out/reused/train-00000.bin")),
                       try Data(contentsOf: ws.root.appendingPathComponent("out/tokens/train-00000.bin")))
    }

    func testSplitByTokensCutsContiguousRangesAndEncodeDecodeRoundTrip() throws {
        let scripts = Workspace.repository.appendingPathComponent("tests-python").path
        XCTAssertEqual(try python([scripts + "/make_tokenizer_corpus.py", "corpus.jsonl", "--hard-only"]).status, 0)
        try ws.write("t.yaml", manifest(vocab: 600, splitBy: "tokens"))
        XCTAssertEqual(try ws.run(["run", "t.yaml"]).status, 0)
        let meta = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/tokens/meta.json"))) as! [String: Any]
        let splits = meta["splits"] as! [String: [String: Any]]
        let counts = ["train", "val", "test"].map { splits[$0]!["tokens"] as! Int }
        let total = counts.reduce(0, +)
        XCTAssertEqual(counts[0], Int(Double(total) * 0.9))
        XCTAssertEqual(counts[1], Int(Double(total) * 0.05))

        let text = "Don't panic: 東京 e\u{301} 👩‍💻\r\n   x² 42!"
        let encoded = try ws.run(["encode", "-t", "out/tokenizer", text])
        XCTAssertEqual(encoded.status, 0, encoded.stderr)
        let ids = encoded.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
        let decoded = try ws.run(["decode", "-t", "out/tokenizer/tokenizer.json"] + ids)
        XCTAssertEqual(decoded.stdout, text)
        for (bad, message) in [("x7", "'x7' is not a token id"), ("999999", "token id 999999 is outside the vocabulary (0..<"),
                               ("-1", "token id -1 is outside the vocabulary")] {
            let refused = try ws.run(["decode", "-t", "out/tokenizer", "--", bad])
            XCTAssertEqual(refused.status, 2, "\(bad): \(refused.stderr)")
            XCTAssertTrue(refused.stderr.contains(message), refused.stderr)
        }
        let reference = try python(["-c", "import sys; from tokenizers import Tokenizer; t = Tokenizer.from_file('out/tokenizer/tokenizer.json'); print(' '.join(map(str, t.encode(sys.argv[1]).ids)))", text])
        XCTAssertEqual(reference.output.trimmingCharacters(in: .whitespacesAndNewlines), ids.joined(separator: " "))
    }
}
