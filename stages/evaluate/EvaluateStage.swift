import BPETokenizer
import Foundation
import Inference
import PipeKit
import TokenScoring
import Transformer

/// `evaluate`: measures a model on held-out tokens and on tasks, samples from it, and checks
/// the objective's targets (the gate).
///
/// It accepts any `model` artifact the pipeline produces, so the cost of pruning, distilling or
/// quantizing is measured by the same code that measured the trained model.
public struct EvaluateStage: Stage {
    public struct Params: Parameters {
        @Param("token splits to measure") var splits = [HeldOutSplit.test]
        @Param("sliding-window stride in tokens; default half the context", range: .positive) var stride: Int? = nil
        @Param("predictions scored per split at most (default: all)", range: .positive) var max_tokens: Int? = nil
        @Param("windows per forward pass", range: .positive) var batch = 8
        @Param("multiple-choice or generation tasks") var tasks: [TaskSpec] = []
        @Param("labelled examples (the examples input): the split scored and the metrics' name") var examples = ExampleTask()
        @Param("sample generations stored with the metrics") var samples = Samples()
        public init() {}
    }

    /// Free generations from given prompts, stored with the metrics.
    struct Samples: Parameters {
        @Param("prompts to continue") var prompts: [String] = []
        @Param("tokens to generate per prompt", range: .nonNegative) var max_new_tokens = 64
        @Param("sampling temperature; 0 is greedy", range: .nonNegative) var temperature = 0.8
        @Param("sample among the k most likely tokens (0 or null: all)", range: .nonNegative) var top_k: Int? = 40
        @Param("sample within the smallest set of tokens whose probability reaches p (null: all)", range: .closed(0, 1))
        var top_p: Double? = 0.95
        @Param("seed of the sampler") var seed = 0
    }

    public static let name = "evaluate"
    public static let version = 2
    public static let summary = "Measure a model (perplexity, bits per byte, top-k, tasks), sample from it, and gate on the objective's targets."
    public static let inputs = [
        StagePort("model", .model, doc: "any model artifact: trained, pruned, distilled or quantized"),
        StagePort("tokens", .tokens, optional: true, doc: "the held-out splits (needed unless splits is [])"),
        StagePort("tokenizer", .tokenizer, doc: "to encode tasks and decode samples, and to count bytes"),
        StagePort("targets", .targets, optional: true, doc: "the objective's targets and gate"),
        StagePort("train_metrics", .metrics, optional: true, doc: "training metrics, for targets on train.*"),
        StagePort("examples", .examples, optional: true, doc: "labelled examples: classification scored by verbalizer, answers by exact match"),
    ]
    public static let outputs = [
        StagePort("metrics", .metrics, doc: "metrics.json, gates.json, samples.json, tasks.jsonl, confusion.json (classification)"),
    ]
    public static func externalInputs(_ p: Params) -> [ExternalInput] { p.tasks.map { ExternalInput(path: $0.path) } }

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        var names = Set<String>()
        for (i, task) in p.tasks.enumerated() {
            if task.name.isEmpty || task.name.contains(".") { problems.append(ParamProblem(["tasks", "\(i)", "name"], "a task name is non-empty and has no '.'")) }
            if !names.insert(task.name).inserted { problems.append(ParamProblem(["tasks", "\(i)", "name"], "task '\(task.name)' is named twice")) }
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let workers = Workers(context.threads)
        let modelInput = try context.input("model")
        let modelFolder = try modelInput.materialize(into: context.scratch.appendingPathComponent("model"))
        let model = try ModelFiles.load(from: modelFolder)
        let tokenizerFolder = try context.input("tokenizer").materialize(into: context.scratch.appendingPathComponent("tokenizer"))
        let tokenizer = try Tokenizer(contentsOf: tokenizerFolder)
        guard tokenizer.vocabularySize == model.config.vocabSize else {
            throw StageError("the model's vocabulary (\(model.config.vocabSize)) differs from the tokenizer's (\(tokenizer.vocabularySize))")
        }
        let tokens = try context.optionalInput("tokens").map { try TokenShards($0, scratch: context.scratch) }
        if !p.splits.isEmpty, tokens == nil { throw StageError("splits \(p.splits.map(\.rawValue)) need the tokens input; give it, or set splits: []") }
        // A fine-tuned model's vocabulary grows past its pretraining tokens' ids; those still fit.
        if let tokens, tokens.meta.vocab_size > model.config.vocabSize {
            throw StageError("the tokens' vocabulary (\(tokens.meta.vocab_size)) is larger than the model's (\(model.config.vocabSize))")
        }
        context.log("model \(modelInput.id): \(model.config.parameterCount) parameters; OpenBLAS kernels \(BLAS.coreName); \(workers.count) threads")

        var metrics: [String: Double] = [:]
        let tokenBytes = (0..<tokenizer.vocabularySize).map { tokenizer.textBytes(Int32($0)) }
        let evaluation = SlidingWindowEvaluation(model: model, workers: workers, batch: p.batch, tokenBytes: tokenBytes)
        for (n, name) in p.splits.map(\.rawValue).enumerated() {
            guard let tokens else { break }  // refused above when splits are asked for
            let split = try tokens.split(name)
            guard split.count > 1 else { throw StageError("tokens: the \(name) split is empty; give bpe-tokenize a \(name) fraction") }
            let started = Date()
            let totals = evaluation.evaluate(split, stride: p.stride ?? max(1, model.config.context / 2), limit: p.max_tokens) { fraction in
                context.progress((Double(n) + fraction) / Double(p.splits.count + 1), "\(name) split \(Int(fraction * 100))%")
            }
            let found = totals.metrics(name)
            metrics.merge(found) { $1 }
            context.log(String(format: "%@: loss %.4f, perplexity %.3f, %.4f bits/byte, top-1 %.3f over %d tokens (%.0f tokens/s)", name,
                               found["\(name).loss"]!, found["\(name).perplexity"]!, found["\(name).bits_per_byte"] ?? .nan,
                               found["\(name).top1"]!, totals.tokens, Double(totals.tokens) / Date().timeIntervalSince(started)))
        }

        // Generation runs on the weights as stored (a quantized model's blocks, with its activation
        // rounding), as `pipe generate` and `pipe serve` run them.
        let stored = FileManager.default.fileExists(atPath: modelFolder.appendingPathComponent(ModelFiles.weightsFile).path)
            ? ModelWeights.float(model) : try ModelWeights.load(modelFolder)
        let runner = TaskRunner(model: model, weights: stored, tokenizer: tokenizer, workers: workers, batch: p.batch)
        var details: [String] = []
        for (n, spec) in p.tasks.enumerated() {
            context.progress(Double(p.splits.count) / Double(p.splits.count + 1) + Double(n) / Double(max(1, p.tasks.count) * (p.splits.count + 1)),
                             "task \(spec.name)")
            let items = try TaskRunner.load(spec, workspace: context.workspace)
            let (found, records) = runner.run(spec, items)
            metrics.merge(found) { $1 }
            details += records.map { record -> String in
                guard case .object(var fields) = record else { return record.canonicalJSON }
                fields["task"] = .string(spec.name)
                return JSONValue.object(fields).canonicalJSON
            }
            context.log("task \(spec.name): " + found.sorted { $0.key < $1.key }.map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
        }

        let out = try context.output("metrics")
        if let examplesInput = context.optionalInput("examples") {
            let task = p.examples
            context.progress(nil, "examples \(task.name)")
            let scoring = ExampleScoring(runner: runner, template: try ChatTemplate.lookup(tokenizer: tokenizerFolder))
            let (found, records, confusion) = try scoring.run(task, examples: try ExampleSet.read(examplesInput, split: task.split.rawValue),
                                                              meta: try ExampleSet.meta(examplesInput))
            metrics.merge(found) { $1 }
            details += records.map { record -> String in
                guard case .object(var fields) = record else { return record.canonicalJSON }
                fields["task"] = .string(task.name)
                return JSONValue.object(fields).canonicalJSON
            }
            if let confusion { try confusion.write(to: out.appendingPathComponent("confusion.json")) }
            context.log("examples \(task.name): " + found.filter { $0.key.split(separator: ".").count == 3 }.sorted { $0.key < $1.key }
                .map { "\($0.key) \(String(format: "%.4f", $0.value))" }.joined(separator: ", "))
        }
        try writeSamples(p.samples, runner: runner, to: out.appendingPathComponent("samples.json"), context: context)
        try Data((details.joined(separator: "\n") + (details.isEmpty ? "" : "\n")).utf8).write(to: out.appendingPathComponent("tasks.jsonl"))
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) { context.metric(name, value) }
        try JSONValue.object(metrics.mapValues(JSONValue.double)).write(to: out.appendingPathComponent("metrics.json"))
        try checkGates(metrics, context: context, into: out)
    }

    private func writeSamples(_ s: Samples, runner: TaskRunner, to url: URL, context: StageContext) throws {
        var records: [JSONValue] = []
        let results = runner.complete(s.prompts, maxNewTokens: s.max_new_tokens, stop: []) { n in
            var sampling = SamplingSettings()
            sampling.temperature = s.temperature
            sampling.topK = s.top_k ?? 0
            sampling.topP = s.top_p ?? 1
            sampling.seed = UInt64(s.seed + n)
            return sampling
        }
        for (n, (prompt, result)) in zip(s.prompts, results).enumerated() {
            records.append(.object(["prompt": .string(prompt), "completion": .string(result.text), "tokens": .int(Int64(result.tokens)),
                                    "tokens_per_second": .double(Double(result.tokens) / max(result.seconds, 1e-9))]))
            context.log("sample \(n + 1): \(JSONValue.string(prompt + result.text).canonicalJSON)")
        }
        try JSONValue.array(records).write(to: url)
    }

    /// Checks the objective's targets against the measured metrics and the training metrics.
    private func checkGates(_ measured: [String: Double], context: StageContext, into folder: URL) throws {
        guard let targetsInput = context.optionalInput("targets") else { return }
        let gates = Gates(file: try JSONDecoder().decode(Gates.File.self, from: targetsInput.read("targets.json")))
        var all = measured
        if let train = context.optionalInput("train_metrics"),
           let values = try JSONSerialization.jsonObject(with: train.read("metrics.json")) as? [String: Any]
        {
            for (k, v) in values { if let d = v as? Double, all[k] == nil { all[k] = d } }
        }
        try gates.enforce(all, context: context, into: folder)
    }
}
