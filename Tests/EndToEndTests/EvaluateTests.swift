import Foundation
import XCTest

/// The `evaluate` stage and `pipe generate` through the built binary.
final class EvaluateTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
    }

    override func tearDown() { ws?.remove() }

    /// objective -> collect -> bpe-tokenize -> train -> evaluate on the project's docs.
    static func manifest(targets: String = "{}", gate: String = "fail", evaluate: String = "{splits: [val, test], stride: 16, max_tokens: 1000}",
                         corpus: String = "corpus", train: String = "{model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 150, lr: 3.0e-3, warmup: 5, eval_every: 150, eval_tokens: 2048}",
                         extra: String = "") -> String
    {
        """
        version: 1
        name: evaluate-test
        stages:
          objective:
            uses: objective
            with: {targets: \(targets), gate: \(gate)}
          text:
            uses: collect
            with: {sources: [{path: \(corpus), include: ["**/*"]}]}
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: text.documents}
            with: {vocab_size: 300, split_by: tokens, splits: {train: 0.8, val: 0.1, test: 0.1}}
            publish: {tokens: out/tokens/, tokenizer: out/tokenizer/}
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: \(train)
            publish: {model: out/model/}
          evaluate:
            uses: evaluate
            inputs: {model: train.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer, targets: objective.targets}
            with: \(evaluate)
            publish: {metrics: out/eval/}
        \(extra)
        """
    }

    private func json(_ path: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent(path)))
    }

    func testPerplexityEqualsAnIndependentNumpyForwardPass() throws {
        try ws.write("p.yaml", Self.manifest())
        XCTAssertEqual(try ws.runStages("p.yaml")["evaluate"], "ran")
        let metrics = try json("out/eval/metrics.json") as! [String: Double]
        for split in ["val", "test"] {
            XCTAssertEqual(metrics["\(split).perplexity"]!, exp(metrics["\(split).loss"]!), accuracy: 1e-9)
            XCTAssertGreaterThan(metrics["\(split).bits_per_byte"]!, 0)
            XCTAssertLessThanOrEqual(metrics["\(split).top1"]!, metrics["\(split).top5"]!)
        }
        XCTAssertEqual(metrics["test.tokens"], 1000, "max_tokens caps the scored predictions")
        let reference = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/perplexity_reference.py").path,
            "--model", "out/model", "--tokens", "out/tokens", "--split", "test", "--stride", "16", "--max-tokens", "1000",
        ], in: ws.root)
        XCTAssertEqual(reference.status, 0, reference.output)
        let expected = try JSONSerialization.jsonObject(with: Data(reference.output.utf8)) as! [String: Any]
        XCTAssertEqual(expected["tokens"] as? Int, 1000)
        let perplexity = expected["perplexity"] as! Double
        XCTAssertEqual(metrics["test.perplexity"]!, perplexity, accuracy: 1e-4 * perplexity)
    }

    func testGatesFailWarnAndPass() throws {
        let downstream = """
          ship:
            uses: ./stages/examples/stats
            inputs: {documents: text.documents}
            needs: [evaluate]
        """
        try ws.write("p.yaml", Self.manifest(targets: "{test.perplexity: {max: 1.01}}", extra: downstream))
        let failed = try ws.run(["run", "p.yaml", "--keep-going", "--json"])
        XCTAssertEqual(failed.status, 1)
        let stages = (failed.json as! [String: Any])["stages"] as! [[String: Any]]
        let evaluate = stages.first { $0["stage"] as? String == "evaluate" }!
        XCTAssertEqual(evaluate["status"] as? String, "failed")
        let error = evaluate["error"] as! String
        XCTAssertTrue(error.contains("1 of 1 targets unmet: test.perplexity = ") && error.contains("target max 1.01"), error)
        XCTAssertEqual(stages.first { $0["stage"] as? String == "ship" }?["status"] as? String, "skipped")

        try ws.write("p.yaml", Self.manifest(targets: "{test.perplexity: {max: 1.01}}", gate: "warn", extra: downstream))
        let warned = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(warned.status, 0, warned.stderr)
        XCTAssertTrue(warned.stderr.contains("warning: 1 of 1 targets unmet: test.perplexity"), warned.stderr)
        let again = try ws.run(["run", "p.yaml"])
        XCTAssertTrue(again.stderr.contains("Nothing to do") && again.stderr.contains("warning: 1 of 1 targets unmet"),
                      "a reused result still shows its warning: \(again.stderr)")

        try ws.write("p.yaml", Self.manifest(targets: "{test.perplexity: {max: 1000000}, test.top5: {min: 0.01}}", extra: downstream))
        XCTAssertEqual(try ws.runStages("p.yaml")["evaluate"], "ran")
        let gates = try json("out/eval/gates.json") as! [String: Any]
        XCTAssertEqual((gates["targets"] as! [[String: Any]]).map { $0["met"] as! Bool }, [true, true])
    }

    func testTasksWithKnownAnswersAndGeneration() throws {
        // A corpus the model can memorize, so the right answers are known.
        let text = String(repeating: "the cat sat on the mat. the dog ran to the park. ", count: 30)
        for i in 0..<40 { try ws.write("rhymes/doc\(i).txt", text) }
        try ws.write("tasks/choice.jsonl", """
        {"prompt": "the cat sat on the", "choices": [" park", " mat", " sky"], "answer": 1}
        {"prompt": "the dog ran to the", "choices": [" park", " mat", " sky"], "answer": " park"}

        """)
        try ws.write("tasks/complete.jsonl", """
        {"prompt": "the cat", "reference": "sat on the mat"}
        {"prompt": "the dog", "reference": "ran to the park"}

        """)
        let evaluate = """
        {splits: [test], tasks: [{name: rhyme, path: tasks/choice.jsonl}, {name: complete, path: tasks/complete.jsonl, max_new_tokens: 12, stop: ["."]}], samples: {prompts: ["the cat"], max_new_tokens: 8, temperature: 0.5}}
        """
        let train = "{model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 200, lr: 3.0e-3, warmup: 5, eval_every: 200, eval_tokens: 1024}"
        try ws.write("p.yaml", Self.manifest(evaluate: evaluate, corpus: "rhymes", train: train))
        XCTAssertEqual(try ws.runStages("p.yaml")["evaluate"], "ran")
        let metrics = try json("out/eval/metrics.json") as! [String: Double]
        XCTAssertEqual(metrics["task.rhyme.accuracy"], 1)
        XCTAssertEqual(metrics["task.complete.rougeL"], 1)
        XCTAssertEqual(metrics["task.complete.bleu"]!, 100, accuracy: 1e-9)
        let samples = try json("out/eval/samples.json") as! [[String: Any]]
        XCTAssertEqual(samples.count, 1)
        XCTAssertGreaterThan(samples[0]["tokens"] as! Int, 0)

        let generated = try ws.run(["generate", "train", "--manifest", "p.yaml", "--prompt", "the dog", "-n", "6", "--temperature", "0"])
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertTrue(generated.stdout.hasPrefix("the dog ran to the park"), generated.stdout)
        XCTAssertTrue(generated.stderr.contains("tokens/s"), generated.stderr)
        let byPath = try ws.run(["generate", "out/model", "-t", "out/tokenizer", "--prompt", "the dog", "-n", "6", "--temperature", "0"])
        XCTAssertEqual(byPath.stdout, generated.stdout)

        try ws.write("tasks/choice.jsonl", "{\"prompt\": \"x\", \"choices\": [\"a\", \"b\"], \"answer\": 5}\n")
        let bad = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("tasks/choice.jsonl:1: answer 5 is not an index into 2 choices"), bad.stderr)
    }

    func testTrainingNeverReadsTheTestSplit() throws {
        // A tokens artifact whose test shard is not even a whole number of ids: training must
        // succeed without touching it, and evaluating the test split must name the broken file.
        try ws.write("stages/spoil/stage.yaml", """
        name: spoil
        version: 1
        run: [sh, -c, 'cp "$PIPE_INPUT_TOKENS"/* "$PIPE_OUTPUT_TOKENS"/ && for f in "$PIPE_OUTPUT_TOKENS"/test-*.bin; do printf abc > "$f"; done']
        inputs:
          tokens: {kind: tokens}
        outputs:
          tokens: {kind: tokens}

        """)
        let spoil = """
          spoil:
            uses: ./stages/spoil
            inputs: {tokens: tokenize.tokens}
          train2:
            uses: train
            inputs: {tokens: spoil.tokens}
            with: {model: {layers: 1, heads: 2, dim: 16, context: 16}, batch: 4, steps: 20, eval_every: 20, eval_tokens: 256}
          evaluate2:
            uses: evaluate
            inputs: {model: train2.model, tokens: spoil.tokens, tokenizer: tokenize.tokenizer}
        """
        try ws.write("p.yaml", Self.manifest(extra: spoil))
        let output = try ws.run(["run", "p.yaml", "--keep-going", "--json"])
        let stages = (output.json as! [String: Any])["stages"] as! [[String: Any]]
        func status(_ name: String) -> String? { stages.first { $0["stage"] as? String == name }?["status"] as? String }
        XCTAssertEqual(status("train2"), "ran")
        XCTAssertEqual(status("evaluate2"), "failed")
        let error = stages.first { $0["stage"] as? String == "evaluate2" }!["error"] as! String
        XCTAssertTrue(error.contains("tokens/test-00000.bin: 3 bytes is not a whole number of uint16 ids"), error)
    }
}
