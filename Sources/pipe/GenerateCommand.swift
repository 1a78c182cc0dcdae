import ArgumentParser
import BPETokenizer
import Foundation
import PipeEngine
import PipeKit
import Transformer

/// `pipe generate`: samples text from a model, streaming tokens as they come (KV cache).
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt with a model: a model folder, or a stage's model with --manifest.",
        discussion: """
        pipe generate out/model -t out/tokenizer --prompt "To be"
        pipe generate train --manifest pipelines/quickstart.yaml --prompt "The" -n 200 --temperature 0
        """)

    @Argument(help: "A model folder (config.json + weights), a .gguf file, or with --manifest the stage whose model to use.")
    var model: String

    @Option(name: .shortAndLong, help: "Resolve MODEL (and the tokenizer) as stages of this manifest's last run.")
    var manifest: String?

    @Option(name: .shortAndLong, help: "A tokenizer.json or folder; with --manifest, a stage name. Default: the model folder's, or the manifest's tokenizer stage.")
    var tokenizer: String?

    @Option(name: .shortAndLong, help: "The text to continue.")
    var prompt = ""

    @Option(name: .customShort("n"), help: "Tokens to generate at most.")
    var maxTokens = 100

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature = 0.8

    @Option(help: "Sample only among the k most likely tokens (0: no limit).")
    var topK = 40

    @Option(help: "Sample only within this much probability mass (1: no limit).")
    var topP = 0.95

    @Option(help: "Seed of the sampler.")
    var seed = 0

    @Option(help: "Write the prompt tokens' logits here (raw little-endian float32, [tokens, vocabulary]).")
    var dumpLogits: String?

    func run() throws {
        BLAS.useSingleThread()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-generate-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (modelFolder, tokenizerPath) = try resolve(scratch: scratch)
        let loaded: TransformerModel
        do {
            if modelFolder.pathExtension == "gguf" {
                let file = try GGUF.read(modelFolder)
                loaded = try LlamaGGUF.load(file, config: LlamaGGUF.config(of: file, path: modelFolder.path), path: modelFolder.path)
            } else {
                loaded = try ModelFiles.load(from: modelFolder)
            }
        } catch {
            throw UsageError("\(model): \(error)")
        }
        let tok: Tokenizer
        do {
            tok = try Tokenizer(contentsOf: tokenizerPath)
        } catch {
            throw UsageError("tokenizer \(tokenizerPath.path): \(error)")
        }
        guard tok.vocabularySize == loaded.config.vocabSize else {
            throw UsageError("the tokenizer has \(tok.vocabularySize) tokens, the model \(loaded.config.vocabSize)")
        }
        let generator = Generator(model: loaded)
        var sampler = Sampler(temperature: temperature, topK: topK > 0 ? topK : nil, topP: topP < 1 ? topP : nil, seed: UInt64(seed))
        var ids = tok.encode(prompt)
        if ids.isEmpty, let eos = loaded.config.eosTokenId { ids = [Int32(eos)] }
        guard ids.count < loaded.config.context else {
            throw UsageError("the prompt is \(ids.count) tokens; the model's context is \(loaded.config.context)")
        }
        if let dumpLogits { try writeLogits(loaded, ids, to: URL(fileURLWithPath: dumpLogits)) }
        let out = FileHandle.standardOutput
        out.write(Data(prompt.utf8))
        var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
        for id in ids { logits = generator.step(id) }
        let started = Date()
        var pending: [UInt8] = [], produced = 0
        while produced < maxTokens, generator.remaining > 0 {
            let next = sampler.next(logits)
            if let eos = loaded.config.eosTokenId, Int(next) == eos { break }
            produced += 1
            pending += tok.bytes(next)
            let complete = UTF8Stream.completePrefix(pending)
            out.write(Data(pending[..<complete]))
            pending.removeFirst(complete)
            if generator.remaining > 0 { logits = generator.step(next) }
        }
        out.write(Data(pending) + Data("\n".utf8))
        let seconds = Date().timeIntervalSince(started)
        FileHandle.standardError.write(Data(String(format: "%d tokens in %.2f s (%.1f tokens/s)%@\n", produced, seconds,
                                                   Double(produced) / max(seconds, 1e-9),
                                                   generator.remaining == 0 ? "; the context is full" : "").utf8))
    }

    /// The logits of a full forward pass over the prompt, for comparison with other tools.
    private func writeLogits(_ model: TransformerModel, _ ids: [Int32], to url: URL) throws {
        let acts = Activations(config: model.config, batch: 1, seq: ids.count, workers: Workers(1), training: false)
        for (i, id) in ids.enumerated() { acts.tokens[i] = id }
        let logits = FloatBuffer(count: ids.count * model.config.vocabSize)
        model.logits(acts, into: logits.pointer)
        try Data(buffer: UnsafeBufferPointer(logits.slice(0, logits.count))).write(to: url)
    }

    /// The model folder and tokenizer path: given directly, or from a manifest's last run.
    private func resolve(scratch: URL) throws -> (URL, URL) {
        guard let manifest else {
            let folder = URL(fileURLWithPath: model)
            if folder.pathExtension == "gguf" {
                guard let tokenizer else { throw UsageError("give the tokenizer of '\(model)' with -t") }
                return (folder, URL(fileURLWithPath: tokenizer))
            }
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelFiles.configFile).path) else {
                throw UsageError("'\(model)' is not a model folder (no config.json) or a .gguf file; to name a stage, add --manifest")
            }
            let tokenizerURL = tokenizer.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
                throw UsageError("no tokenizer.json in '\(model)'; give one with -t")
            }
            return (folder, tokenizerURL)
        }
        var options = try ManifestOptions.parse([manifest])
        options.cache = nil
        let (loaded, cache) = try options.load()
        let runs = try StageRuns(manifest: loaded, cache: cache)
        func artifact(stage: String, kind: ArtifactKind, into folder: URL) throws -> URL {
            guard let declared = loaded.stage(stage) else { throw UsageError("no stage '\(stage)' in \(manifest)") }
            guard let port = declared.descriptor.outputs.first(where: { $0.kind == kind }) else {
                throw UsageError("stage '\(stage)' has no \(kind) output")
            }
            guard let record = try runs.last(stage), let tree = record.outputs[port.name] else {
                throw UsageError("stage '\(stage)' has not run yet; run `pipe run \(manifest) \(stage)` first")
            }
            try tree.materialize(into: folder, store: cache.objects)
            return folder
        }
        let tokenizerStage = try tokenizer ?? {
            let candidates = loaded.stages.filter { $0.descriptor.outputs.contains { $0.kind == .tokenizer } }.map(\.name)
            guard candidates.count == 1 else {
                throw UsageError("name the tokenizer stage with -t (candidates: \(candidates.joined(separator: ", ")))")
            }
            return candidates[0]
        }()
        return (try artifact(stage: model, kind: .model, into: scratch.appendingPathComponent("model")),
                try artifact(stage: tokenizerStage, kind: .tokenizer, into: scratch.appendingPathComponent("tokenizer")))
    }
}

/// Streaming text out of byte-level tokens, which may split a character across tokens.
enum UTF8Stream {
    /// How many leading bytes form complete UTF-8 sequences (a cut sequence at the end waits).
    static func completePrefix(_ bytes: [UInt8]) -> Int {
        var i = bytes.count - 1, back = 0
        while i >= 0, back < 4, bytes[i] & 0xC0 == 0x80 { i -= 1; back += 1 }
        guard i >= 0 else { return bytes.count }
        let lead = bytes[i]
        let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return bytes.count - i >= needed ? bytes.count : i
    }
}
