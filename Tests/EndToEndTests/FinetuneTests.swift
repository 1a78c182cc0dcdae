import BPETokenizer
import Foundation
import PipeKit
import Transformer
import XCTest

/// `prepare-examples` and `finetune` through the built binary: examples checked and split,
/// the template and special tokens carried into the tokenizer and every export (rendered by
/// `transformers` exactly as by pipe), the loss averaged over learned tokens across
/// accumulation steps, and packing that changes nothing but the rows.
final class FinetuneTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
    }

    override func tearDown() { ws.remove() }

    /// A JSON file of the workspace.
    private func json(_ relative: String) throws -> JSONValue {
        try JSONValue.parse(Data(contentsOf: ws.root.appendingPathComponent(relative)))
    }

    /// A small pretrained model on the docs corpus, then the given stages.
    static func manifest(_ stages: String) -> String {
        """
        version: 1
        name: finetune-test
        stages:
        \(Workspace.docsTokenizeStages(vocab: 320, splits: "{train: 0.9, val: 0.1, test: 0.0}"))
          pretrain:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, dim: 32, context: 64}, batch: 8, steps: 40, lr: 3.0e-3, warmup: 5, eval_every: 40, eval_tokens: 2048}
            publish: {model: out/pretrain/}
        \(stages)
        """
    }

    /// Additions of two numbers as chats, with a system message now and then.
    private func writeChats(_ count: Int) throws {
        var rng = SplitMix64(seed: 5)
        var lines = ""
        for n in 0..<count {
            let a = Int(rng.next() % 50), b = Int(rng.next() % 50)
            var messages: [JSONValue] = []
            if n % 3 == 0 { messages.append(.object(["role": .string("system"), "content": .string("You add.")])) }
            messages.append(.object(["role": .string("user"), "content": .string("\(a) + \(b)?")]))
            messages.append(.object(["role": .string("assistant"), "content": .string("\(a + b)")]))
            lines += JSONValue.object(["messages": .array(messages)]).canonicalJSON + "\n"
        }
        try ws.write("chats.jsonl", lines)
    }

    static let chatStages = #"""
      chats:
        uses: prepare-examples
        with: {train: chats.jsonl, split: {validation: 0.2, test: 0.0}}
      chat:
        uses: finetune
        inputs: {examples: chats.examples, init_from: pretrain.model, tokenizer: tokenize.tokenizer}
        with:
          chat_template:
            system: "<|system|>\n{content}<|end|>\n"
            user: "<|user|> it's \\ \"quoted\":\n{content}<|end|>\n"
            assistant: "<|assistant|>\n{content}<|end|>\n"
          special_tokens: ["<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
          steps: 20
          batch: 8
          lr: 3.0e-3
          warmup: 2
          eval_every: 10
          packing: true
        publish: {tokenizer: out/tokenizer/, model: out/model/, metrics: out/metrics/}
      export:
        uses: export
        inputs: {model: chat.model, tokenizer: chat.tokenizer}
        publish: {gguf: out/gguf/, hf: out/hf/}
    """#

    func testChatTemplateAndSpecialTokensReachTheTokenizerAndEveryExport() throws {
        try writeChats(120)
        try ws.write("p.yaml", Self.manifest(Self.chatStages))
        let statuses = try ws.runStages("p.yaml")
        XCTAssertEqual(statuses["chat"], "ran")
        XCTAssertEqual(statuses["export"], "ran")

        // Four new special tokens after the 320 of the pretrained tokenizer; the model grew with them.
        let tokenizer = try Tokenizer(contentsOf: ws.root.appendingPathComponent("out/tokenizer"))
        XCTAssertEqual(tokenizer.vocabularySize, 324)
        XCTAssertEqual(tokenizer.specialTokenId("<|end|>"), 323)
        XCTAssertEqual(tokenizer.encode("a<|user|>b<|end|>").filter { $0 >= 320 }, [321, 323], "never split by the pre-tokenizer")
        let config = try json("out/model/config.json")
        XCTAssertEqual(config["vocab_size"]?.intValue, 324)
        let metrics = try json("out/metrics/metrics.json")
        XCTAssertEqual(metrics["finetune.train.examples"]?.doubleValue, 96)
        XCTAssertEqual(metrics["finetune.validation.examples"]?.doubleValue, 24)
        XCTAssertNotNil(metrics["val.loss"]?.doubleValue)

        // pipe's renderings of 50 varied conversations, for transformers to reproduce.
        let template = try XCTUnwrap(try ChatTemplate.lookup(tokenizer: ws.root.appendingPathComponent("out/hf")))
        let pieces = ["hello", "it's", "back\\slash", "{{ raw }}", "{% if x %}", "two\nlines", "tab\there", "ünïcödé 中文 🙂", "",
                      "  spaced  ", "<|user|> inside", "'quoted' \"twice\"", "42"]
        var rng = SplitMix64(seed: 9)
        var lines = ""
        for n in 0..<50 {
            var messages: [ChatMessage] = []
            if n % 4 == 0 { messages.append(ChatMessage(role: "system", content: pieces[Int(rng.next() % UInt64(pieces.count))])) }
            for turn in 0..<(1 + n % 3) {
                messages.append(ChatMessage(role: "user", content: pieces[Int(rng.next() % UInt64(pieces.count))] + " \(turn)"))
                if turn < n % 3 || n % 2 == 0 { messages.append(ChatMessage(role: "assistant", content: pieces[Int(rng.next() % UInt64(pieces.count))])) }
            }
            let rendered = try template.render(messages)
            lines += JSONValue.object([
                "messages": .array(messages.map { .object(["role": .string($0.role), "content": .string($0.content)]) }),
                "rendered": .string(rendered), "rendered_closed": .string(try template.render(messages, addGenerationPrompt: false)),
                "ids": .array(tokenizer.encode(rendered).map { .int(Int64($0)) }),
            ]).canonicalJSON + "\n"
        }
        try ws.write("conversations.jsonl", lines)
        let conformance = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/chat_template_conformance.py").path,
            "--hf", "out/hf", "--gguf", "out/gguf/model.gguf", "--conversations", "conversations.jsonl",
        ], in: ws.root)
        XCTAssertEqual(conformance.status, 0, conformance.output)
        XCTAssertTrue(conformance.output.contains("50 conversations, 0 failure(s)"), conformance.output)

        // The grown model and tokenizer still export exactly (weights, logits, token ids).
        try ws.write("prompts.txt", "<|user|>\n3 + 4?<|end|>\n<|assistant|>\nThe engine\n")
        let export = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/export_conformance.py").path,
            "--hf", "out/hf", "--gguf", "out/gguf/model.gguf", "--prompts", "prompts.txt", "--pipe", Workspace.binary.path,
        ], in: ws.root)
        XCTAssertEqual(export.status, 0, export.output)
    }

    /// Completions whose answers differ in length, so that a loss averaged per micro-batch
    /// instead of per learned token would weigh them differently.
    private func writeCompletions() throws {
        let answers = ["a", "the stage runs", "x", "every stage is cached by content and rerun only when stale", "ok", "yes indeed", "no", "pipe"]
        var lines = ""
        for (n, answer) in answers.enumerated() {
            lines += JSONValue.object(["prompt": .string("Question \(n):"), "completion": .string(" " + answer)]).canonicalJSON + "\n"
        }
        try ws.write("qa.jsonl", lines)
    }

    private static func finetune(_ name: String, _ settings: String) -> String {
        """
          \(name):
            uses: finetune
            inputs: {examples: qa.examples, init_from: pretrain.model, tokenizer: tokenize.tokenizer}
            with: {steps: 1, warmup: 0, schedule: constant, seed: 3, \(settings)}
            publish: {model: out/\(name)/, metrics: out/\(name)-metrics/}
        """
    }

    func testFourAccumulationStepsOfOneEqualOneStepOfFour() throws {
        try writeCompletions()
        try ws.write("p.yaml", Self.manifest("""
          qa:
            uses: prepare-examples
            with: {train: qa.jsonl, split: {validation: 0.0, test: 0.0}}
        \(Self.finetune("whole", "batch: 4, grad_accum: 1, lr: 1.0e-3"))
        \(Self.finetune("accumulated", "batch: 1, grad_accum: 4, lr: 1.0e-3"))
        """))
        let statuses = try ws.runStages("p.yaml")
        XCTAssertEqual(statuses["whole"], "ran")
        XCTAssertEqual(statuses["accumulated"], "ran")
        func metric(_ name: String, _ folder: String) throws -> Double {
            try XCTUnwrap(json("out/\(folder)/metrics.json")[name]?.doubleValue)
        }
        XCTAssertEqual(try metric("train.loss", "whole-metrics"), try metric("train.loss", "accumulated-metrics"), accuracy: 1e-6)
        XCTAssertEqual(try metric("train.trained_tokens", "whole-metrics"), try metric("train.trained_tokens", "accumulated-metrics"))

        let whole = try SafeTensorsFloats(ws.root.appendingPathComponent("out/whole/model.safetensors"))
        let accumulated = try SafeTensorsFloats(ws.root.appendingPathComponent("out/accumulated/model.safetensors"))
        XCTAssertEqual(whole.values.count, accumulated.values.count)
        let largest = zip(whole.values, accumulated.values).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThan(largest, 1e-5, "an AdamW step moves a weight by up to lr = 1e-3; the two updates differ by \(largest)")
    }

    func testLoRATrainsOnlyTheTargetedMatricesAndMergesThem() throws {
        try writeCompletions()
        try ws.write("p.yaml", Self.manifest("""
          qa:
            uses: prepare-examples
            with: {train: qa.jsonl, split: {validation: 0.25, test: 0.0}}
        \(Self.finetune("adapted", "batch: 4, lr: 1.0e-2, eval_every: 1, lora: {rank: 4, alpha: 8, targets: [q_proj, down_proj]}"))
        """).replacingOccurrences(of: "steps: 1,", with: "steps: 20,"))
        XCTAssertEqual(try ws.runStages("p.yaml")["adapted"], "ran")
        let before = try SafeTensors.read(ws.root.appendingPathComponent("out/pretrain/model.safetensors"))
        let after = try SafeTensors.read(ws.root.appendingPathComponent("out/adapted/model.safetensors"))
        XCTAssertEqual(Set(before.keys), Set(after.keys))
        for (name, tensor) in before {
            let targeted = name.hasSuffix("q_proj.weight") || name.hasSuffix("down_proj.weight")
            if targeted {
                XCTAssertNotEqual(after[name]!.values, tensor.values, "\(name) is adapted")
            } else {
                XCTAssertEqual(after[name]!.values, tensor.values, "\(name) stays frozen, bit for bit")
            }
        }
        let curve = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/adapted-metrics/curve.json"))) as! [[String: Any]]
        // The adapters fit their six training examples: the last five steps' loss is below the
        // first five's. (Not the validation loss: its two held-out answers share nothing with the
        // training ones, and whether it falls in 20 steps depends on the pretraining corpus, docs/.)
        let train = curve.compactMap { $0["trainLoss"] as? Double }
        XCTAssertLessThan(train.suffix(5).reduce(0, +), train.prefix(5).reduce(0, +), "the adapters learn: \(train)")
    }

    func testPackingChangesTheRowsButNotTheLoss() throws {
        try writeCompletions()
        // A learning rate so small that both runs measure the pretrained model's validation loss.
        try ws.write("p.yaml", Self.manifest("""
          qa:
            uses: prepare-examples
            with: {train: qa.jsonl, split: {validation: 0.5, test: 0.0}}
        \(Self.finetune("padded", "batch: 2, lr: 1.0e-12"))
        \(Self.finetune("packed", "batch: 2, lr: 1.0e-12, packing: true"))
        """))
        _ = try ws.runStages("p.yaml")
        func metrics(_ folder: String) throws -> JSONValue { try json("out/\(folder)/metrics.json") }
        let padded = try XCTUnwrap(try metrics("padded-metrics")["val.loss"]?.doubleValue)
        let packed = try XCTUnwrap(try metrics("packed-metrics")["val.loss"]?.doubleValue)
        XCTAssertEqual(packed, padded, accuracy: 1e-5 * padded)
        XCTAssertGreaterThan(padded, 0)
    }

    func testClassificationIsLearnedAndScoredAsScikitLearnScoresIt() throws {
        // Three classes, each named by one keyword among filler words.
        let classes = [("storage", "cache"), ("model", "training"), ("data", "cleaning")]
        let filler = ["the", "a", "pipe", "stage", "runs", "with", "its", "own", "files", "and", "then"]
        var rng = SplitMix64(seed: 21)
        var lines = ""
        for n in 0..<240 {
            let (label, keyword) = classes[n % 7 < 3 ? 0 : n % 7 < 5 ? 1 : 2]
            var words = (0..<6).map { _ in filler[Int(rng.next() % UInt64(filler.count))] }
            words.insert(keyword, at: Int(rng.next() % 7))
            lines += JSONValue.object(["text": .string(words.joined(separator: " ")), "label": .string(label)]).canonicalJSON + "\n"
        }
        try ws.write("topics.jsonl", lines)
        try ws.write("p.yaml", Self.manifest("""
          topics:
            uses: prepare-examples
            with:
              train: topics.jsonl
              split: {validation: 0.1, test: 0.25}
              classification: {prompt: "{text}\\nTopic:", labels: {storage: " storage", model: " model", data: " data"}}
          before:
            uses: evaluate
            inputs: {model: pretrain.model, tokenizer: tokenize.tokenizer, examples: topics.examples}
            with: {splits: [], examples: {name: topics}}
            publish: {metrics: out/before/}
          classifier:
            uses: finetune
            inputs: {examples: topics.examples, init_from: pretrain.model, tokenizer: tokenize.tokenizer}
            with: {epochs: 15, batch: 8, lr: 5.0e-3, warmup: 5, eval_every: 50}
          after:
            uses: evaluate
            inputs: {model: classifier.model, tokenizer: classifier.tokenizer, examples: topics.examples, tokens: tokenize.tokens}
            with: {splits: [val], examples: {name: topics}}
            publish: {metrics: out/after/}
        """))
        let statuses = try ws.runStages("p.yaml")
        XCTAssertEqual(statuses["after"], "ran")
        func metrics(_ folder: String) throws -> JSONValue { try json("out/\(folder)/metrics.json") }
        let after = try metrics("after"), before = try metrics("before")
        let accuracy = try XCTUnwrap(after["task.topics.accuracy"]?.doubleValue)
        let baseline = try XCTUnwrap(after["task.topics.majority_baseline"]?.doubleValue)
        XCTAssertGreaterThan(accuracy, baseline + 0.2, "fine-tuning learns the keyword rule")
        XCTAssertGreaterThan(accuracy, try XCTUnwrap(before["task.topics.accuracy"]?.doubleValue))
        XCTAssertNotNil(after["val.bits_per_byte"]?.doubleValue, "the grown model still measures the pretraining tokens")

        let check = try Workspace.execute(TokenizerTests.python, ["-c", """
        import json
        from sklearn import metrics as m
        for folder in ["out/before", "out/after"]:
            mine = json.load(open(folder + "/metrics.json"))
            rows = [json.loads(l) for l in open(folder + "/tasks.jsonl") if l.strip()]
            truth, pred = [r["label"] for r in rows], [r["predicted"] for r in rows]
            confusion = json.load(open(folder + "/confusion.json"))
            labels = confusion["labels"]
            assert confusion["matrix"] == m.confusion_matrix(truth, pred, labels=labels).tolist(), folder
            assert abs(mine["task.topics.accuracy"] - m.accuracy_score(truth, pred)) < 1e-12, folder
            assert abs(mine["task.topics.macro_f1"] - m.f1_score(truth, pred, average="macro", zero_division=0)) < 1e-12, folder
            assert abs(mine["task.topics.acc_norm"] - m.accuracy_score(truth, [r["predicted_norm"] for r in rows])) < 1e-12, folder
            p, r, f, _ = m.precision_recall_fscore_support(truth, pred, labels=labels, zero_division=0)
            for i, label in enumerate(labels):
                for name, value in [("precision", p[i]), ("recall", r[i]), ("f1", f[i])]:
                    assert abs(mine[f"task.topics.{name}.{label}"] - value) < 1e-12, (folder, name, label)
        print("agrees with sklearn")
        """], in: ws.root)
        XCTAssertEqual(check.status, 0, check.output)
    }

    func testBadExampleLinesAreNamedOrCountedAndSplitsAreSeeded() throws {
        try ws.write("mixed.jsonl", """
        {"prompt": "a", "completion": "b"}
        {"prompt": "c"}
        not json
        {"messages": [{"role": "user", "content": "hi"}]}
        {"prompt": "d", "completion": "e"}

        """)
        try ws.write("p.yaml", """
        version: 1
        name: examples-test
        stages:
          strict:
            uses: prepare-examples
            with: {train: mixed.jsonl}
        """)
        let failed = try ws.run(["run", "p.yaml"])
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.stderr.contains("mixed.jsonl:2:") && failed.stderr.contains("must both be strings"), failed.stderr)

        var labelled = ""
        for n in 0..<100 { labelled += "{\"body\": \"item \(n)\", \"class\": \(n % 3 == 0 ? "\"spam\"" : "\"ham\"")}\n" }
        try ws.write("labelled.jsonl", labelled + "{\"body\": \"odd\", \"class\": \"eggs\"}\n")
        try ws.write("p.yaml", """
        version: 1
        name: examples-test
        stages:
          lenient:
            uses: prepare-examples
            with: {train: mixed.jsonl, bad_lines: skip, split: {validation: 0.0, test: 0.0}}
            publish: {examples: out/lenient/}
          classes:
            uses: prepare-examples
            with:
              train: labelled.jsonl
              seed: 4
              bad_lines: skip
              fields: {text: body, label: class}
              classification: {prompt: "{text} is", labels: {spam: " spam", ham: " ham"}}
            publish: {examples: out/classes/}
        """)
        _ = try ws.runStages("p.yaml")
        let lenient = try json("out/lenient/meta.json")
        XCTAssertEqual(lenient["form"]?.stringValue, "completion")
        XCTAssertEqual(lenient["counts"]?["train"]?.intValue, 2, "lines 2, 3 and 4 skipped")
        let meta = try json("out/classes/meta.json")
        XCTAssertEqual(meta["form"]?.stringValue, "classification")
        XCTAssertEqual(meta["counts"]?["test"]?.intValue, 10)
        XCTAssertEqual(meta["counts"]?["validation"]?.intValue, 10)
        XCTAssertEqual(meta["counts"]?["train"]?.intValue, 80)
        let test = try ws.jsonLines("out/classes/test.jsonl")
        XCTAssertTrue(test.allSatisfy { ($0["prompt"] as? String)?.hasSuffix(" is") == true && ["spam", "ham"].contains($0["label"] as? String) })
        XCTAssertEqual(Set(test.map { $0["completion"] as! String }).isSubset(of: [" spam", " ham"]), true)
    }
}

/// Every float of a safetensors file's F32 tensors, in file order.
struct SafeTensorsFloats {
    let values: [Float]

    init(_ url: URL) throws {
        let data = try Data(contentsOf: url)
        let length = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let body = data.subdata(in: 8 + length..<data.count)
        values = body.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
    }
}
