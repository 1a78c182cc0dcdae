import ArgumentParser
import BPETokenizer
import Foundation
import PipeEngine
import Inference
import PipeKit
import Transformer

/// `pipe generate`: continues prompts with a model on the inference engine, streaming the
/// tokens of a single sequence as they come; several prompts (or `--parallel N` copies) decode
/// together in one batch.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a model: a model folder, or a stage's model with --manifest.",
        discussion: """
        pipe generate out/model -t out/tokenizer --prompt "To be"
        pipe generate train --manifest pipelines/quickstart.yaml --prompt "The" -n 200 --temperature 0
        pipe generate out/gguf-q4_0/model.gguf -t out/model-hf --prompt "def " --prompt "class " --json
        """)

    @Argument(help: "A model folder (config.json + weights), a .gguf file, or with --manifest the stage whose model to use.")
    var model: String

    @Option(name: .shortAndLong, help: "Resolve MODEL (and the tokenizer) as stages of this manifest's last run.")
    var manifest: String?

    @Option(name: .shortAndLong, help: "A tokenizer.json or folder; with --manifest, a stage name. Default: the model folder's, or the manifest's tokenizer stage.")
    var tokenizer: String?

    @Option(name: .shortAndLong, help: "A text to continue; repeat for several prompts decoded together.")
    var prompt: [String] = []

    @Option(help: "A prompt as space-separated token ids (repeatable), instead of text.")
    var promptIds: [String] = []

    @Option(help: "Sequences decoded at once; with fewer prompts, they are repeated (each copy seeded seed + i).")
    var parallel: Int?

    @Option(name: .customShort("n"), help: "Tokens to generate at most per sequence.")
    var maxTokens = 100

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature = 0.8

    @Option(help: "Sample only among the k most likely tokens (0: no limit).")
    var topK = 40

    @Option(help: "Sample only within this much probability mass (1: no limit).")
    var topP = 0.95

    @Option(help: "Drop tokens less likely than this fraction of the most likely one (0: none).")
    var minP = 0.0

    @Option(help: "Penalty for tokens already in the sequence (1: none; 1.1 is a common choice).")
    var repeatPenalty = 1.0

    @Option(help: "Subtracted from a generated token's logit per time it occurred (OpenAI's frequency_penalty).")
    var frequencyPenalty = 0.0

    @Option(help: "Subtracted from the logit of every token generated before (OpenAI's presence_penalty).")
    var presencePenalty = 0.0

    @Option(help: "Seed of the sampler.")
    var seed = 0

    @Option(help: "Stop a sequence when its text contains this (repeatable); the text ends before it.")
    var stop: [String] = []

    @Flag(help: "Keep generating past the end-of-text token.")
    var ignoreEos = false

    @Option(help: "Threads (default: every core).")
    var threads: Int?

    @Flag(help: "Print one JSON object per sequence (text, token ids, finish reason) and the timings.")
    var json = false

    @Option(help: "Write the prompt tokens' logits here (raw little-endian float32, [tokens, vocabulary]).")
    var dumpLogits: String?

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("-n must not be negative") }
        guard parallel.map({ $0 >= 1 }) ?? true else { throw ValidationError("--parallel must be at least 1") }
        guard threads.map({ $0 >= 1 }) ?? true else { throw ValidationError("--threads must be at least 1") }
    }

    func run() throws {
        let scratch = ScratchFolder("generate")
        defer { scratch.remove() }
        let (weights, tok) = try ModelSource(model: model, manifest: manifest, tokenizer: tokenizer).resolve(scratch: scratch.url).load()
        let config = weights.config
        let prompts = try promptTokens(tok, endOfText: config.eosTokenId)
        if let dumpLogits {
            let logits = try InferenceEngine(weights: weights, threads: 1).logits(of: prompts[0].ids)
            try logits.withUnsafeBufferPointer { try Data(buffer: $0).write(to: URL(fileURLWithPath: dumpLogits)) }
        }
        let count = max(prompts.count, parallel ?? prompts.count)
        let engine = InferenceEngine(weights: weights, slots: parallel ?? count,
                                     threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let output = GenerationOutput(tokenizer: tok, stops: stop, streams: count == 1 && !json)
        var stopTokens: Set<Int32> = []
        if !ignoreEos, let eos = config.eosTokenId { stopTokens.insert(Int32(eos)) }
        for i in 0..<count {
            let source = prompts[i % prompts.count]
            var sampling = SamplingSettings()
            sampling.temperature = temperature
            sampling.topK = max(0, topK)
            sampling.topP = topP
            sampling.minP = minP
            sampling.repetitionPenalty = repeatPenalty
            sampling.frequencyPenalty = frequencyPenalty
            sampling.presencePenalty = presencePenalty
            sampling.seed = UInt64(seed + i)
            let sequence = output.add(source.text, ids: source.ids)
            do {
                _ = try engine.submit(GenerationRequest(prompt: source.ids, maxTokens: maxTokens, sampling: sampling, stopTokens: stopTokens)) {
                    output.handle($0, of: sequence)
                }
            } catch let error as InferenceError {
                throw UsageError("\(error); ask for fewer tokens with -n")
            }
        }
        engine.runUntilIdle()
        try output.finish(json: json, weights: weights)
    }

    /// The prompts as token ids, with their text (an empty prompt starts from end-of-text).
    private func promptTokens(_ tok: Tokenizer, endOfText: Int?) throws -> [(text: String, ids: [Int32])] {
        var prompts = prompt.map { text -> (String, [Int32]) in (text, tok.encode(text)) }
        for list in promptIds {
            let ids = try list.split(separator: " ").map { word -> Int32 in
                guard let id = Int32(word) else { throw UsageError("--prompt-ids: '\(word)' is not a token id") }
                return id
            }
            do {
                prompts.append((try tok.decode(ids), ids))
            } catch {
                throw UsageError("--prompt-ids: \(error)")
            }
        }
        if prompts.isEmpty { prompts = [("", [])] }
        return prompts.map { text, ids in (text, ids.isEmpty ? endOfText.map { [Int32($0)] } ?? [] : ids) }
    }
}
