import Foundation
@testable import EvaluateStage
import XCTest

/// ROUGE-L and BLEU against Google's `rouge-score` and `sacrebleu` on fixed strings.
final class TextScoreTests: XCTestCase {
    static let pairs: [(prediction: String, reference: String)] = [
        ("the cat sat on the mat", "the cat sat on the mat"),
        ("The cat sat on a mat.", "the cat was sitting on the mat"),
        ("A quick brown fox jumps over the lazy dog!", "The quick brown fox jumped over the lazy dog."),
        ("It costs $3.50, or 1,000 yen -- cheap.", "It cost 3.50 dollars (1,000 yen)."),
        ("", "nothing was generated"),
        ("numbers 12-14 and e-mail a@b.com", "numbers 12 - 14 and email a@b.com"),
        ("Ünïcödé words stay", "unicode words stay"),
        ("x", "a much longer reference sentence than the prediction"),
    ]

    private func reference(_ script: String) throws -> Any {
        let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"] ?? "python3"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let payload = String(decoding: try JSONSerialization.data(withJSONObject: Self.pairs.map { [$0.prediction, $0.reference] }), as: UTF8.self)
        process.arguments = [python, "-c", script, payload]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "the reference script failed (are rouge-score and sacrebleu in .venv/?)")
        return try JSONSerialization.jsonObject(with: data)
    }

    func testRougeLMatchesRougeScore() throws {
        let expected = try reference("""
        import json, sys
        from rouge_score import rouge_scorer
        s = rouge_scorer.RougeScorer(["rougeL"])
        print(json.dumps([s.score(r, p)["rougeL"].fmeasure for p, r in json.loads(sys.argv[1])]))
        """) as! [Double]
        for (pair, value) in zip(Self.pairs, expected) {
            XCTAssertEqual(TextScores.rougeL(prediction: pair.prediction, reference: pair.reference), value, accuracy: 1e-12, "\(pair)")
        }
    }

    func testBLEUMatchesSacrebleu() throws {
        let expected = try reference("""
        import json, sys
        import sacrebleu
        pairs = json.loads(sys.argv[1])
        out = {"corpus": sacrebleu.corpus_bleu([p for p, _ in pairs], [[r for _, r in pairs]]).score,
               "sentences": [sacrebleu.corpus_bleu([p], [[r]]).score for p, r in pairs],
               "tokens": [sacrebleu.tokenizers.tokenizer_13a.Tokenizer13a()(p) for p, _ in pairs]}
        print(json.dumps(out))
        """) as! [String: Any]
        let tokens = expected["tokens"] as! [String]
        for (pair, joined) in zip(Self.pairs, tokens) {
            XCTAssertEqual(TextScores.tokens13a(pair.prediction).joined(separator: " "), joined)
        }
        XCTAssertEqual(TextScores.bleu(predictions: Self.pairs.map(\.prediction), references: Self.pairs.map(\.reference)),
                       expected["corpus"] as! Double, accuracy: 1e-9)
        for (pair, value) in zip(Self.pairs, expected["sentences"] as! [Double]) {
            XCTAssertEqual(TextScores.bleu(predictions: [pair.prediction], references: [pair.reference]), value, accuracy: 1e-9, "\(pair)")
        }
    }
}
