import BPETokenizer
import Foundation
import Inference
import PipeKit
import Transformer

/// A task named in the manifest: a JSONL file of items, all multiple-choice
/// (`{"prompt", "choices", "answer"}`) or all generation (`{"prompt", "reference"}`).
struct TaskSpec: Parameters {
    @Param("metrics are task.<name>.<metric>") var name: String
    @Param("JSONL file in the workspace") var path: String
    @Param("generation tasks: tokens to generate at most", range: .positive) var max_new_tokens = 64
    @Param("generation tasks: stop at any of these") var stop = ["\n"]
    @Param("score only the first items", range: .positive) var limit: Int? = nil
}

/// One item of a task file.
struct TaskItem {
    var prompt: String
    var choices: [String]?
    var answer: Int?
    var reference: String?
}

/// Scores tasks the way lm-evaluation-harness does: a multiple-choice item is answered by the
/// choice with the highest log-likelihood given the prompt; a generation item by greedy
/// decoding until a stop string, scored with ROUGE-L and BLEU against its reference.
struct TaskRunner {
    let model: TransformerModel
    /// The weights as stored, for generation on the inference engine.
    let weights: ModelWeights
    let tokenizer: Tokenizer
    let workers: Workers
    let batch: Int

    /// Parses a task file, naming the file and line of anything malformed.
    static func load(_ spec: TaskSpec, workspace: URL) throws -> [TaskItem] {
        let url = spec.path.hasPrefix("/") ? URL(fileURLWithPath: spec.path) : workspace.appendingPathComponent(spec.path)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw StageError("tasks.\(spec.name): cannot read \(spec.path)") }
        var items: [TaskItem] = []
        for (n, line) in String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let where_ = "\(spec.path):\(n + 1)"
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw StageError("\(where_): not a JSON object")
            }
            guard let prompt = object["prompt"] as? String else { throw StageError("\(where_): needs a string \"prompt\"") }
            var item = TaskItem(prompt: prompt)
            if let choices = object["choices"] {
                guard let list = choices as? [String], list.count >= 2 else { throw StageError("\(where_): \"choices\" must list at least two strings") }
                item.choices = list
                if let index = object["answer"] as? Int {
                    guard list.indices.contains(index) else { throw StageError("\(where_): answer \(index) is not an index into \(list.count) choices") }
                    item.answer = index
                } else if let text = object["answer"] as? String, let index = list.firstIndex(of: text) {
                    item.answer = index
                } else {
                    throw StageError("\(where_): \"answer\" must be a choice's index or its text")
                }
            } else if let reference = object["reference"] as? String {
                item.reference = reference
            } else {
                throw StageError("\(where_): give \"choices\" and \"answer\" (multiple choice) or \"reference\" (generation)")
            }
            if let first = items.first, (first.choices == nil) != (item.choices == nil) {
                throw StageError("\(where_): a task file holds one kind of item; line 1 is \(first.choices == nil ? "generation" : "multiple choice")")
            }
            items.append(item)
            if let limit = spec.limit, items.count >= limit { break }
        }
        guard !items.isEmpty else { throw StageError("\(spec.path): no items") }
        return items
    }

    /// `task.<name>.<metric>` values, and one detail record per item.
    func run(_ spec: TaskSpec, _ items: [TaskItem]) -> (metrics: [String: Double], details: [JSONValue]) {
        if items[0].choices != nil { return multipleChoice(spec, items) }
        return generation(spec, items)
    }

    private func multipleChoice(_ spec: TaskSpec, _ items: [TaskItem]) -> ([String: Double], [JSONValue]) {
        var requests: [(context: [Int32], continuation: [Int32])] = []
        for item in items {
            let context = tokenizer.encode(item.prompt)
            for choice in item.choices! {
                let whole = tokenizer.encode(item.prompt + choice)
                requests.append((context, Array(whole.dropFirst(min(context.count, whole.count - 1)))))
            }
        }
        let scores = logLikelihoods(requests)
        var correct = 0, next = 0
        var details: [JSONValue] = []
        for item in items {
            let mine = Array(scores[next..<next + item.choices!.count])
            next += item.choices!.count
            let best = mine.indices.max { mine[$0] < mine[$1] }!
            if best == item.answer { correct += 1 }
            details.append(.object(["prompt": .string(item.prompt), "choices": .array(item.choices!.map(JSONValue.string)),
                                    "chosen": .int(Int64(best)), "answer": .int(Int64(item.answer!)),
                                    "log_likelihoods": .array(mine.map(JSONValue.double))]))
        }
        return (["task.\(spec.name).accuracy": Double(correct) / Double(items.count)], details)
    }

    /// Σ log p(continuation | context) per request, batched; the context is cut from the left
    /// when the pair is longer than the model's context.
    func logLikelihoods(_ requests: [(context: [Int32], continuation: [Int32])]) -> [Double] {
        let length = model.config.context
        let rows = min(batch, max(1, requests.count))
        let acts = Activations(config: model.config, batch: rows, seq: length, workers: workers, training: false)
        var results: [Double] = []
        for first in stride(from: 0, to: requests.count, by: rows) {
            let group = requests[first..<min(first + rows, requests.count)]
            var spans: [Range<Int>] = []
            for b in 0..<rows {
                let request = b < group.count ? group[group.startIndex + b] : group[group.startIndex]
                var sequence = request.context + request.continuation
                if sequence.count > length + 1 { sequence.removeFirst(sequence.count - length - 1) }
                let n = sequence.count - 1
                for t in 0..<length {
                    acts.tokens[b * length + t] = t < n ? sequence[t] : 0
                    acts.targets[b * length + t] = t < n ? sequence[t + 1] : 0
                }
                let scored = min(request.continuation.count, n)
                spans.append(b * length + n - scored..<b * length + n)
            }
            model.run(acts, perRow: true)
            for b in 0..<group.count {
                results.append(-spans[b].reduce(0.0) { $0 + Double(acts.rowLosses[$1]) })
            }
        }
        return results
    }

    private func generation(_ spec: TaskSpec, _ items: [TaskItem]) -> ([String: Double], [JSONValue]) {
        let completions = complete(items.map(\.prompt), maxNewTokens: spec.max_new_tokens, stop: spec.stop) { _ in .greedy }
        var predictions: [String] = [], details: [JSONValue] = []
        var rouge = 0.0
        for (item, completion) in zip(items, completions) {
            let text = completion.text
            predictions.append(text)
            let score = TextScores.rougeL(prediction: text, reference: item.reference!)
            rouge += score
            details.append(.object(["prompt": .string(item.prompt), "prediction": .string(text), "reference": .string(item.reference!),
                                    "rougeL": .double(score)]))
        }
        return (["task.\(spec.name).rougeL": rouge / Double(items.count),
                 "task.\(spec.name).bleu": TextScores.bleu(predictions: predictions, references: items.map { $0.reference! })], details)
    }

    /// Continues every prompt on the inference engine (decoded together, `batch` at a time) until
    /// the end-of-text token, a stop string or `maxNewTokens`; a prompt is cut from the left to
    /// leave room in the context.
    func complete(_ prompts: [String], maxNewTokens: Int, stop: [String], sampling: (Int) -> SamplingSettings)
        -> [(text: String, tokens: Int, seconds: Double)]
    {
        complete(ids: prompts.map { tokenizer.encode($0) }, maxNewTokens: maxNewTokens, stop: stop, sampling: sampling)
    }

    /// `complete` on prompts given as token ids.
    func complete(ids prompts: [[Int32]], maxNewTokens: Int, stop: [String], sampling: (Int) -> SamplingSettings)
        -> [(text: String, tokens: Int, seconds: Double)]
    {
        /// One prompt's completion; the engine calls back on the thread that steps it, this one.
        final class Completion: @unchecked Sendable {
            let tokenizer: Tokenizer
            var ids: [Int32] = []
            var bytes: [UInt8] = []
            var text = ""
            var started = Date(), ended = Date()
            init(_ tokenizer: Tokenizer) { self.tokenizer = tokenizer }
        }
        let engine = InferenceEngine(weights: weights, slots: max(1, min(batch, prompts.count)), threads: workers.count)
        let stopTokens = Set(model.config.eosTokenId.map { [Int32($0)] } ?? [])
        let completions = prompts.map { _ in Completion(tokenizer) }
        for (n, (prompt, completion)) in zip(prompts, completions).enumerated() {
            var ids = prompt
            let room = max(1, model.config.context - maxNewTokens)
            if ids.count > room { ids.removeFirst(ids.count - room) }
            if ids.isEmpty, let eos = model.config.eosTokenId { ids = [Int32(eos)] }
            let request = GenerationRequest(prompt: ids, maxTokens: min(maxNewTokens, model.config.context - ids.count),
                                            sampling: sampling(n), stopTokens: stopTokens)
            do {
                _ = try engine.submit(request) { event in
                    switch event {
                    case .token(let t):
                        completion.ids.append(t.token)
                        completion.bytes += completion.tokenizer.bytes(t.token)
                        completion.text = String(decoding: completion.bytes, as: UTF8.self)
                        if let cut = stop.compactMap({ completion.text.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
                            completion.text = String(completion.text[..<cut.lowerBound])
                            return false
                        }
                    case .finished: completion.ended = Date()
                    case .promptScored: break
                    }
                    return true
                }
            } catch {
                preconditionFailure("a prompt cut to the context is always accepted: \(error)")
            }
        }
        engine.runUntilIdle()
        return completions.map { ($0.text, $0.ids.count, $0.ended.timeIntervalSince($0.started)) }
    }
}
