import BPETokenizer
import Foundation
import Inference
import PipeKit

/// Which split of an `examples` artifact evaluate scores, and how.
struct ExampleTask: Parameters {
    @Param("metrics are task.<name>.<metric>") var name = "examples"
    @Param("the split scored") var split = ExampleSplit.test
    @Param("generated answers: tokens at most", range: .positive) var max_new_tokens = 64
    @Param("score only the first examples", range: .positive) var limit: Int? = nil
}

/// A held-out split of labelled examples.
enum ExampleSplit: String, ParamChoice { case validation, test }

/// Scores labelled examples the way fine-tuning tokenized them (prompt and answer apart):
/// classification by each label's verbalizer log-likelihood (`accuracy`, and `acc_norm` with
/// the log-likelihood divided by the verbalizer's length in characters, as
/// lm-evaluation-harness does), with per-class precision, recall and F1, macro-F1, the
/// majority-class baseline and the confusion matrix; completions and chats by greedy
/// generation, exact match after trimming whitespace and ROUGE-L.
struct ExampleScoring {
    let runner: TaskRunner
    let template: ChatTemplate?

    /// Metrics, one detail record per example, and (classification) the confusion matrix.
    func run(_ task: ExampleTask, examples: [Example], meta: ExampleSet.Meta) throws
        -> (metrics: [String: Double], details: [JSONValue], confusion: JSONValue?)
    {
        let examples = task.limit.map { Array(examples.prefix($0)) } ?? examples
        guard !examples.isEmpty else { throw StageError("examples: the \(task.split.rawValue) split is empty") }
        switch meta.form {
        case "classification": return try classify(task, examples, meta)
        case "completion", "chat":
            let (metrics, details) = try generate(task, examples)
            return (metrics, details, nil)
        default: throw StageError("examples: \(meta.form) examples have no answers to score; use a tokens split for their loss")
        }
    }

    private func classify(_ task: ExampleTask, _ examples: [Example], _ meta: ExampleSet.Meta) throws
        -> ([String: Double], [JSONValue], JSONValue?)
    {
        guard let labels = meta.labelOrder, let verbalizers = meta.labels, !labels.isEmpty,
              Set(labels) == Set(verbalizers.keys), labels.count == verbalizers.count
        else { throw StageError("examples/meta.json: classification needs labelOrder naming each of labels once") }
        let tokenizer = runner.tokenizer
        var requests: [(context: [Int32], continuation: [Int32])] = [], truth: [String] = [], prompts: [String] = []
        for example in examples {
            guard case .completion(let prompt, _, let label?) = example, verbalizers[label] != nil else {
                throw StageError("examples: a classification example without one of the labels \(labels)")
            }
            let context = tokenizer.encode(prompt)
            for label in labels { requests.append((context, tokenizer.encode(verbalizers[label, default: ""]))) }
            truth.append(label)
            prompts.append(prompt)
        }
        let scores = runner.logLikelihoods(requests)
        var predicted: [String] = [], normalized: [String] = [], details: [JSONValue] = []
        for n in examples.indices {
            let mine = Array(scores[n * labels.count..<(n + 1) * labels.count])
            let lengths = labels.map { Double(max(1, verbalizers[$0, default: ""].unicodeScalars.count)) }
            let best = mine.indices.max { mine[$0] < mine[$1] }!
            let bestNormalized = mine.indices.max { mine[$0] / lengths[$0] < mine[$1] / lengths[$1] }!
            predicted.append(labels[best])
            normalized.append(labels[bestNormalized])
            details.append(.object(["prompt": .string(prompts[n]), "label": .string(truth[n]), "predicted": .string(labels[best]),
                                    "predicted_norm": .string(labels[bestNormalized]), "log_likelihoods": .array(mine.map(JSONValue.double))]))
        }
        let scored = ClassificationScores(labels: labels, truth: truth, predicted: predicted)
        let prefix = "task.\(task.name)."
        var metrics: [String: Double] = [
            prefix + "accuracy": scored.accuracy, prefix + "macro_f1": scored.macroF1, prefix + "majority_baseline": scored.majorityBaseline,
            prefix + "acc_norm": ClassificationScores(labels: labels, truth: truth, predicted: normalized).accuracy,
        ]
        for (i, label) in labels.enumerated() {
            metrics[prefix + "f1.\(label)"] = scored.f1(i)
            metrics[prefix + "precision.\(label)"] = scored.precision(i)
            metrics[prefix + "recall.\(label)"] = scored.recall(i)
        }
        let confusion = JSONValue.object(["task": .string(task.name), "labels": .array(labels.map(JSONValue.string)),
                                          "matrix": .array(scored.confusion.map { .array($0.map { .int(Int64($0)) }) })])
        return (metrics, details, confusion)
    }

    private func generate(_ task: ExampleTask, _ examples: [Example]) throws -> ([String: Double], [JSONValue]) {
        var prompts: [[Int32]] = [], references: [String] = [], shown: [String] = []
        let tokenizer = runner.tokenizer
        for example in examples {
            switch example {
            case .completion(let prompt, let completion, _):
                prompts.append(tokenizer.encode(prompt))
                references.append(completion)
                shown.append(prompt)
            case .chat(let messages):
                guard let template else { throw StageError("examples: chat examples need a tokenizer with a chat template") }
                guard let last = messages.lastIndex(where: { $0.role == "assistant" }) else {
                    throw StageError("examples: a chat example without an assistant message to compare with")
                }
                let segments = try template.segments(Array(messages[..<last]), addGenerationPrompt: true)
                prompts.append(segments.flatMap { tokenizer.encode($0.text) })
                references.append(messages[last].content)
                shown.append(segments.map(\.text).joined())
            case .text:
                throw StageError("examples: a text example has no answer to compare with")
            }
        }
        let stops = template?.stopText.map { [$0] } ?? []
        let outputs = runner.complete(ids: prompts, maxNewTokens: task.max_new_tokens, stop: stops) { _ in .greedy }
        var matches = 0, rouge = 0.0, details: [JSONValue] = []
        for (n, output) in outputs.enumerated() {
            let match = output.text.trimmingCharacters(in: .whitespacesAndNewlines) == references[n].trimmingCharacters(in: .whitespacesAndNewlines)
            if match { matches += 1 }
            let score = TextScores.rougeL(prediction: output.text, reference: references[n])
            rouge += score
            details.append(.object(["prompt": .string(shown[n]), "prediction": .string(output.text), "reference": .string(references[n]),
                                    "exact_match": .bool(match), "rougeL": .double(score)]))
        }
        return (["task.\(task.name).exact_match": Double(matches) / Double(outputs.count),
                 "task.\(task.name).rougeL": rouge / Double(outputs.count)], details)
    }
}
