import Foundation
import XCTest

/// prune and distill through the built binary.
final class OptimizeTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
        try ws.write("p.yaml", """
        version: 1
        name: optimize-test
        stages:
        \(Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.8, val: 0.1, test: 0.1}"))
          teacher:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, dim: 64, context: 32}, batch: 8, steps: 200, lr: 3.0e-3, warmup: 10, eval_every: 200, eval_tokens: 2048}
          pruned:
            uses: prune
            inputs: {model: teacher.model}
            with: {sparsity: 0.5}
            publish: {model: out/pruned/, metrics: out/pruned-metrics/}
          pruned_layer:
            uses: prune
            inputs: {model: teacher.model, tokens: tokenize.tokens}
            with: {sparsity: 0.3, scope: layer, recovery_steps: 20, lr: 1.0e-3, warmup: 0, eval_every: 20, eval_tokens: 2048}
            publish: {model: out/pruned-layer/, metrics: out/pruned-layer-metrics/}
          student:
            uses: distill
            inputs: {teacher: teacher.model, tokens: tokenize.tokens}
            with: {model: {layers: 1, heads: 2, dim: 32, context: 32}, steps: 100, lr: 3.0e-3, warmup: 10, eval_every: 100, eval_tokens: 2048}
            publish: {metrics: out/student/}

        """)
    }

    override func tearDown() { ws?.remove() }

    private func metrics(_ folder: String) throws -> [String: Double] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("\(folder)/metrics.json"))) as! [String: Double]
    }

    /// Zeros per matrix of a published model, read back with the project's own reference reader.
    private func zeroFractions(_ folder: String) throws -> [String: Double] {
        let out = try Workspace.execute(TokenizerTests.python, ["-c", """
        import json, sys
        sys.path.insert(0, "\(Workspace.repository.path)/tests-python")
        import llama_reference as ref
        t = ref.read_safetensors("\(folder)/model.safetensors")
        print(json.dumps({k: float((v == 0).mean()) for k, v in t.items()}))
        """], in: ws.root)
        XCTAssertEqual(out.status, 0, out.output)
        return try JSONSerialization.jsonObject(with: Data(out.output.utf8)) as! [String: Double]
    }

    func testPruneReachesItsSparsityAndDistillTrainsAStudent() throws {
        let stages = try ws.runStages("p.yaml")
        XCTAssertEqual(stages.values.filter { $0 != "ran" }, [], "\(stages)")

        let global = try metrics("out/pruned-metrics")
        XCTAssertEqual(global["prune.sparsity"]!, 0.5, accuracy: 1e-3)
        let zeros = try zeroFractions("out/pruned")
        XCTAssertEqual(zeros["model.embed_tokens.weight"]!, 0, accuracy: 1e-3, "embeddings stay dense")
        XCTAssertEqual(zeros["model.layers.0.input_layernorm.weight"], 0, "norms stay dense")

        // Per layer: every matrix at the same sparsity, still so after recovery fine-tuning.
        let layer = try zeroFractions("out/pruned-layer")
        for (name, fraction) in layer where name.contains("proj") {
            XCTAssertEqual(fraction, 0.3, accuracy: 0.01, name)
        }
        let recovered = try metrics("out/pruned-layer-metrics")
        XCTAssertEqual(recovered["prune.sparsity"]!, 0.3, accuracy: 1e-3)
        XCTAssertEqual(recovered["train.steps"], 20)
        XCTAssertNotNil(recovered["val.loss"])

        let student = try metrics("out/student")
        XCTAssertEqual(student["train.steps"], 100)
        XCTAssertLessThan(student["val.loss"]!, log(300.0) - 0.5, "the student learned")
        XCTAssertGreaterThan(student["distill.teacher_parameters"]!, student["train.parameters"]!)
    }
}
