import Foundation
import XCTest

/// quantize and export through the built binary, checked with the reference Python packages.
final class ExportTests: XCTestCase {
    var ws: Workspace!

    /// The docs corpus (named, with its licence, for the model card) and its tokenizer.
    static let corpusStages = Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.8, val: 0.1, test: 0.1}",
                                                           source: ", name: docs, license: MIT")

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
        try ws.write("p.yaml", """
        version: 1
        name: export-test
        stages:
          objective:
            uses: objective
            with: {domain: project docs, targets: {test.perplexity: {max: 100000}}}
        \(Self.corpusStages)
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, kv_heads: 1, dim: 64, context: 64}, batch: 8, steps: 150, lr: 3.0e-3, warmup: 10, eval_every: 150, eval_tokens: 2048}
          q8:
            uses: quantize
            inputs: {model: train.model}
            with: {type: q8_0}
          q4:
            uses: quantize
            inputs: {model: train.model}
            with: {type: q4_0, head: same}
          eval_f32:
            uses: evaluate
            inputs: {model: train.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer, targets: objective.targets}
            publish: {metrics: out/eval-f32/}
          eval_q8:
            uses: evaluate
            inputs: {model: q8.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer}
            publish: {metrics: out/eval-q8/}
          eval_q4:
            uses: evaluate
            inputs: {model: q4.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer}
            publish: {metrics: out/eval-q4/}
          export:
            uses: export
            inputs: {model: train.model, tokenizer: tokenize.tokenizer, objective: objective.objective, metrics: eval_f32.metrics, documents: text.documents}
            needs: [eval_f32]
            publish: {gguf: out/f32/, hf: out/hf/}
          export_q4:
            uses: export
            inputs: {model: q4.model, tokenizer: tokenize.tokenizer}
            publish: {gguf: out/q4/, hf: out/q4-hf/}
          export_q8:
            uses: export
            inputs: {model: q8.model, tokenizer: tokenize.tokenizer}
            with: {formats: [gguf]}
            publish: {gguf: out/q8/}

        """)
    }

    override func tearDown() { ws?.remove() }

    private func perplexity(_ folder: String) throws -> Double {
        let m = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("\(folder)/metrics.json"))) as! [String: Double]
        return m["test.perplexity"]!
    }

    func testQuantizedModelsEvaluateAndExportsLoadInTheReferenceTools() throws {
        let stages = try ws.runStages("p.yaml")
        XCTAssertEqual(stages.values.filter { $0 != "ran" }, [], "\(stages)")
        let f32 = try perplexity("out/eval-f32"), q8 = try perplexity("out/eval-q8"), q4 = try perplexity("out/eval-q4")
        XCTAssertLessThan(q8 / f32, 1.01, "q8_0 costs under 1% perplexity")
        XCTAssertLessThan(q4 / f32, 1.08, "q4_0 costs under 8% perplexity")
        XCTAssertNotEqual(q4, f32, "the quantized weights really are different")

        let card = try ws.read("out/hf/README.md")
        let documents = try FileManager.default.contentsOfDirectory(atPath: Workspace.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.count  // one document a file of the docs corpus
        XCTAssertTrue(card.contains("| docs | MIT | \(documents) |"), card)
        XCTAssertTrue(card.contains("`test.perplexity`"), card)
        XCTAssertTrue(try ws.read("out/q4-hf/README.md").contains("dequantized to f32 from a quantized model"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("out/q8/model.safetensors").path))

        // Block layouts byte for byte against the gguf package's reference quantizers, and
        // everything the conformance script checks (tokenizer, metadata, weights, logits).
        let blocks = try Workspace.execute(TokenizerTests.python, ["-c", """
        import json, numpy as np, gguf
        from safetensors.numpy import load_file
        w = load_file("out/hf/model.safetensors")
        for path, kind in [("out/q4/model.gguf", gguf.GGMLQuantizationType.Q4_0), ("out/q8/model.gguf", gguf.GGMLQuantizationType.Q8_0)]:
            t = {x.name: x for x in gguf.GGUFReader(path).tensors}["blk.0.ffn_down.weight"]
            assert t.tensor_type == kind, (path, t.tensor_type)
            mine = bytes(np.asarray(t.data).tobytes())
            ref = bytes(gguf.quants.quantize(w["model.layers.0.mlp.down_proj.weight"], kind).tobytes())
            assert mine == ref, (path, "blocks differ from gguf.quants.quantize")
        print("blocks identical")
        """], in: ws.root, environment: nil)
        XCTAssertEqual(blocks.status, 0, blocks.output)
        try ws.write("prompts.txt", "The engine\nA stage reads its inputs and\n# pipe\n")
        let conformance = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/export_conformance.py").path,
            "--hf", "out/hf", "--gguf", "out/f32/model.gguf", "--gguf", "out/q8/model.gguf", "--gguf", "out/q4/model.gguf",
            "--prompts", "prompts.txt", "--pipe", Workspace.binary.path,
        ], in: ws.root)
        XCTAssertEqual(conformance.status, 0, conformance.output)
    }

    /// A model trained with QK-norm is a Qwen3 model everywhere it goes: its Hugging Face folder
    /// (Qwen3ForCausalLM, q_norm/k_norm), its GGUF files (llama.cpp's qwen3, q/k rows unpermuted,
    /// f32 and Q8_0), their logits against the numpy reference and pipe reading them back.
    func testAQKNormedModelExportsAsQwen3AndConforms() throws {
        try ws.write("qk.yaml", """
        version: 1
        name: export-qk-test
        stages:
        \(Self.corpusStages)
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, kv_heads: 1, dim: 64, context: 64, qk_norm: true}, batch: 8, steps: 80, lr: 3.0e-3, warmup: 10, eval_every: 80, eval_tokens: 2048}
          q8:
            uses: quantize
            inputs: {model: train.model}
            with: {type: q8_0}
          export:
            uses: export
            inputs: {model: train.model, tokenizer: tokenize.tokenizer}
            publish: {gguf: out/qk-f32/, hf: out/qk-hf/}
          export_q8:
            uses: export
            inputs: {model: q8.model, tokenizer: tokenize.tokenizer}
            with: {formats: [gguf]}
            publish: {gguf: out/qk-q8/}

        """)
        let stages = try ws.runStages("qk.yaml")
        XCTAssertEqual(stages.values.filter { $0 != "ran" }, [], "\(stages)")
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/qk-hf/config.json"))) as! [String: Any]
        XCTAssertEqual(config["model_type"] as? String, "qwen3")
        XCTAssertTrue(try ws.read("out/qk-hf/README.md").contains("Qwen3ForCausalLM"))
        try ws.write("prompts.txt", "The engine\nA stage reads its inputs and\n")
        let conformance = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/export_conformance.py").path,
            "--hf", "out/qk-hf", "--gguf", "out/qk-f32/model.gguf", "--gguf", "out/qk-q8/model.gguf",
            "--prompts", "prompts.txt", "--pipe", Workspace.binary.path,
        ], in: ws.root)
        XCTAssertEqual(conformance.status, 0, conformance.output)
        XCTAssertTrue(conformance.output.contains("qwen3"), conformance.output)
    }
}
