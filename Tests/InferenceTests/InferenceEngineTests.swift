import CInferenceKernels
import Foundation
@testable import Inference
import Transformer
import XCTest

/// The inference engine against independent references: pipe's token-by-token `Generator` on
/// the same f32 weights, the same weights read from GGUF, the engine alone against the engine
/// batched, and the sampling, scoring, cancellation and limit rules.
final class InferenceEngineTests: XCTestCase {
    /// A small model with grouped-query attention and dims that quantize (multiples of 32).
    static func model(tied: Bool = false, qkNorm: Bool = false, seed: UInt64 = 7) -> TransformerModel {
        let config = ModelConfig(vocabSize: 96, dim: 64, layers: 2, heads: 4, kvHeads: 2, ffnDim: 160, context: 96,
                                 tieEmbeddings: tied, qkNorm: qkNorm, bosTokenId: 0, eosTokenId: 0)
        let model = TransformerModel(config: config)
        model.initialize(seed: seed)
        // GPT-2's init gives nearly uniform logits; sharpen the head so greedy choices are clear.
        for i in 0..<model.parameters.count { model.parameters.pointer[i] *= 4 }
        // QK-norm weights away from 1 (and different per element), so a misplaced norm shows.
        for t in model.layout.tensors where t.name.hasSuffix("q_norm.weight") || t.name.hasSuffix("k_norm.weight") {
            for i in 0..<t.count { model.parameters.pointer[t.offset + i] = 0.5 + Float((i * 7 + t.offset) % 11) / 10 }
        }
        return model
    }

    static let prompt: [Int32] = [3, 17, 42, 5, 88, 9, 1, 60, 61, 2]

    /// Logits of `tokens` from the Generator, one position after another.
    static func referenceLogits(_ model: TransformerModel, _ tokens: [Int32]) -> [Float] {
        let generator = Generator(model: model)
        return tokens.flatMap { Array(generator.step($0)) }
    }

    static func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
        let scale = b.reduce(Float(0)) { max($0, abs($1)) }
        return zip(a, b).reduce(Float(0)) { max($0, abs($1.0 - $1.1)) } / max(scale, 1e-30)
    }

    /// The model written as a GGUF file of `type` (norms f32), as quantize and export write it.
    static func gguf(_ model: TransformerModel, _ type: GGMLType, in folder: URL) throws -> URL {
        let url = folder.appendingPathComponent("model-\(type.name).gguf")
        try GGUF.write(metadata: LlamaGGUF.metadata(model.config, name: "test", fileType: type),
                       tensors: LlamaGGUF.tensors(of: model) { $0.isNorm ? .f32 : type }, to: url)
        return url
    }

    func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("inference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testF32LogitsEqualTheGeneratorsForEveryPositionTiedUntiedAndQKNormed() throws {
        for (tied, qkNorm) in [(false, false), (true, false), (false, true)] {
            let model = Self.model(tied: tied, qkNorm: qkNorm)
            let engine = InferenceEngine(weights: .float(model), slots: 1, threads: 2)
            let got = try engine.logits(of: Self.prompt)
            XCTAssertLessThan(Self.maxRelativeDifference(got, Self.referenceLogits(model, Self.prompt)), 1e-5, "tied \(tied) qkNorm \(qkNorm)")
        }
    }

    /// The generator (and so the engine) against the training forward pass, which shares none of
    /// their code for the norm's placement: the logits of every position of one sequence.
    func testTheGeneratorsQKNormedLogitsEqualTheTrainingForwardPass() {
        let model = Self.model(qkNorm: true)
        let acts = Activations(config: model.config, batch: 1, seq: Self.prompt.count, workers: Workers(1), training: false)
        acts.tokens.update(from: Self.prompt, count: Self.prompt.count)
        var logits = [Float](repeating: 0, count: Self.prompt.count * model.config.vocabSize)
        logits.withUnsafeMutableBufferPointer { model.logits(acts, into: $0.baseAddress!) }
        XCTAssertLessThan(Self.maxRelativeDifference(Self.referenceLogits(model, Self.prompt), logits), 1e-5)
    }

    func testAGGUFFileIsReadInPlaceWithItsOwnRotaryLayoutAndGivesTheSameLogits() throws {
        // llama (q/k rows permuted, pair rotation) and qwen3 (QK-norm, rows in order, halves).
        for qkNorm in [false, true] {
            let model = Self.model(qkNorm: qkNorm)
            let url = try Self.gguf(model, .f32, in: try temporaryFolder())
            let weights = try ModelWeights.load(url)
            XCTAssertEqual(weights.config, model.config.asStoredInGGUF)
            XCTAssertEqual(weights.rotary, qkNorm ? .halves : .pairs)
            let got = try InferenceEngine(weights: weights, slots: 1, threads: 2).logits(of: Self.prompt)
            XCTAssertLessThan(Self.maxRelativeDifference(got, Self.referenceLogits(model, Self.prompt)), 1e-5, "qkNorm \(qkNorm)")
        }
    }

    func testAGGUFFileWhoseArchitectureDisagreesWithItsConfigIsRefused() throws {
        let folder = try temporaryFolder()
        let model = Self.model(qkNorm: true)
        _ = try Self.gguf(model, .q8_0, in: folder)
        try FileManager.default.moveItem(at: folder.appendingPathComponent("model-q8_0.gguf"), to: folder.appendingPathComponent(ModelFiles.ggufFile))
        var llama = model.config
        llama.qkNorm = false
        try JSONEncoder().encode(llama).write(to: folder.appendingPathComponent(ModelFiles.configFile))
        XCTAssertThrowsError(try ModelWeights.load(folder)) { error in
            XCTAssertTrue("\(error)".contains("general.architecture is qwen3, but its config describes a llama model"), "\(error)")
        }
    }

    func testQuantizedWeightsStayQuantizedAndTrackTheirDequantizedModel() throws {
        let folder = try temporaryFolder()
        // Beyond the weights' own rounding (in the reference too), Q8_0 and Q4_0 products round
        // the activations to 8 bits per block, as llama.cpp does.
        for (type, tolerance, qkNorm) in [(GGMLType.f16, Float(2e-3), false), (.q8_0, 5e-2, false), (.q4_0, 1.5e-1, false), (.q8_0, 5e-2, true)] {
            let model = Self.model(qkNorm: qkNorm)
            let url = try Self.gguf(model, type, in: folder)
            let weights = try ModelWeights.load(url)
            XCTAssertEqual(weights.matrixType, type)
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as! Int
            XCTAssertLessThanOrEqual(weights.byteCount, size, "\(type.name): the weights are the file's bytes, not a float copy")
            // The reference: the same file dequantized into a float model.
            let dequantized = try LlamaGGUF.load(GGUF.read(url), config: model.config, path: url.path)
            let got = try InferenceEngine(weights: weights, slots: 1, threads: 2).logits(of: Self.prompt)
            let difference = Self.maxRelativeDifference(got, Self.referenceLogits(dequantized, Self.prompt))
            XCTAssertLessThan(difference, tolerance, "\(type.name) qkNorm \(qkNorm)")
        }
    }

    /// Runs `requests` together on one engine and returns each one's tokens and log-probabilities.
    static func generate(_ engine: InferenceEngine, _ requests: [GenerationRequest]) throws -> [([Int32], [Double], FinishReason?)] {
        final class Record: @unchecked Sendable {
            var tokens: [Int32] = []
            var logprobs: [Double] = []
            var finish: FinishReason?
        }
        let records = requests.map { _ in Record() }
        for (request, record) in zip(requests, records) {
            _ = try engine.submit(request) { event in
                switch event {
                case .token(let t):
                    record.tokens.append(t.token)
                    record.logprobs.append(t.logprob)
                case .finished(let reason): record.finish = reason
                case .promptScored: break
                }
                return true
            }
        }
        engine.runUntilIdle()
        return records.map { ($0.tokens, $0.logprobs, $0.finish) }
    }

    /// Five requests, greedy and seeded, with prompts of 3 ... 11 tokens.
    static func mixedRequests() -> [GenerationRequest] {
        (0..<5).map { i in
            var sampling = i % 2 == 0 ? SamplingSettings.greedy : SamplingSettings()
            sampling.seed = UInt64(100 + i)
            sampling.topK = i == 3 ? 20 : 0
            sampling.topP = i == 1 ? 0.9 : 1
            return GenerationRequest(prompt: Array(Self.prompt.prefix(3 + 2 * i)), maxTokens: 12 + i, sampling: sampling)
        }
    }

    func testBatchedSequencesMatchEachRunAloneGreedyAndSeeded() throws {
        let model = Self.model()
        let requests = Self.mixedRequests()
        let alone = try requests.map { try Self.generate(InferenceEngine(weights: .float(model), slots: 1, threads: 2), [$0])[0] }
        // Five sequences on four slots with small batches: prompts are split into chunks and the
        // fifth joins when a slot frees up.
        let together = try Self.generate(InferenceEngine(weights: .float(model), slots: 4, threads: 2, maxBatchTokens: 6), requests)
        for (i, (a, b)) in zip(alone, together).enumerated() {
            XCTAssertEqual(a.0, b.0, "sequence \(i): the same tokens batched or alone")
            XCTAssertEqual(a.0.count, requests[i].maxTokens)
            XCTAssertEqual(b.2, .length)
            for (x, y) in zip(a.1, b.1) { XCTAssertEqual(x, y, accuracy: 1e-5, "sequence \(i) log-probabilities") }
        }
    }

    /// On quantized weights a sequence's log-probabilities are the same bits batched or alone:
    /// the kernels compute each row the same way whatever else is in the batch (decode steps of
    /// 4 rows take the tiles, the first step's 24 prompt rows the panels, a sequence alone one row).
    func testQuantizedBatchedSequencesGiveTheSameBitsAsAlone() throws {
        let folder = try temporaryFolder()
        let model = Self.model()
        let requests = Self.mixedRequests()
        for type in [GGMLType.q8_0, .q4_0] {
            let weights = try ModelWeights.load(Self.gguf(model, type, in: folder))
            let alone = try requests.map { try Self.generate(InferenceEngine(weights: weights, slots: 1, threads: 2), [$0])[0] }
            let together = try Self.generate(InferenceEngine(weights: weights, slots: 4, threads: 2), requests)
            for (i, (a, b)) in zip(alone, together).enumerated() {
                XCTAssertEqual(a.0, b.0, "\(type.name) sequence \(i): the same tokens batched or alone")
                XCTAssertEqual(a.1.map(\.bitPattern), b.1.map(\.bitPattern), "\(type.name) sequence \(i): the same log-probabilities")
            }
        }
    }

    func testScoringAPromptGivesEachTokensLogProbabilityGivenTheOnesBefore() throws {
        let model = Self.model()
        let reference = Self.referenceLogits(model, Self.prompt)
        let engine = InferenceEngine(weights: .float(model), slots: 2, threads: 2, maxBatchTokens: 4)
        final class Box: @unchecked Sendable { var scores: [TokenLogprob] = []; var finish: FinishReason? }
        let box = Box()
        var sampling = SamplingSettings.greedy
        sampling.topLogprobs = 3
        _ = try engine.submit(GenerationRequest(prompt: Self.prompt, maxTokens: 0, sampling: sampling, scorePrompt: true)) { event in
            if case .promptScored(let s) = event { box.scores = s }
            if case .finished(let r) = event { box.finish = r }
            return true
        }
        engine.runUntilIdle()
        XCTAssertEqual(box.finish, .length)
        XCTAssertEqual(box.scores.map(\.token), Array(Self.prompt.dropFirst()))
        let vocab = model.config.vocabSize
        for (i, score) in box.scores.enumerated() {
            let row = Array(reference[i * vocab..<(i + 1) * vocab]).map(Double.init)
            let top = row.max()!, normalizer = top + log(row.reduce(0) { $0 + exp($1 - top) })
            XCTAssertEqual(score.logprob, row[Int(Self.prompt[i + 1])] - normalizer, accuracy: 1e-4)
            XCTAssertEqual(score.top.count, 3)
            XCTAssertEqual(score.top[0].logprob, top - normalizer, accuracy: 1e-4, "the first alternative is the most likely token")
        }
    }

    func testPromptsBeyondTheContextAreRefusedNotTruncated() throws {
        let engine = InferenceEngine(weights: .float(Self.model()), slots: 1, threads: 1)
        XCTAssertThrowsError(try engine.submit(GenerationRequest(prompt: Array(repeating: 1, count: 90), maxTokens: 7)) { _ in true }) { error in
            XCTAssertEqual((error as? InferenceError)?.kind, .contextLengthExceeded)
            XCTAssertTrue("\(error)".contains("context of 96 tokens"), "\(error)")
        }
        XCTAssertThrowsError(try engine.submit(GenerationRequest(prompt: [96], maxTokens: 1)) { _ in true }) { error in
            XCTAssertEqual((error as? InferenceError)?.kind, .invalidRequest)
        }
        XCTAssertThrowsError(try engine.submit(GenerationRequest(prompt: [], maxTokens: 1)) { _ in true })
    }

    func testCancellingFreesTheSlotAtTheNextStepAndStopTokensEndASequence() throws {
        let model = Self.model()
        let engine = InferenceEngine(weights: .float(model), slots: 1, threads: 2)
        final class Box: @unchecked Sendable { var tokens = 0; var finish: FinishReason?; var handle: SequenceHandle? }
        let first = Box(), second = Box()
        first.handle = try engine.submit(GenerationRequest(prompt: Self.prompt, maxTokens: 50, sampling: .greedy)) { event in
            if case .token = event { first.tokens += 1; if first.tokens == 3 { first.handle?.cancel() } }
            if case .finished(let r) = event { first.finish = r }
            return true
        }
        // Queued behind the first: it gets the slot once the first is cancelled. Its stop token is
        // the greedy continuation's third token, so it ends there without reporting it.
        let greedy = try Self.generate(InferenceEngine(weights: .float(model), slots: 1, threads: 1),
                                       [GenerationRequest(prompt: [4, 5], maxTokens: 3, sampling: .greedy)])[0].0
        _ = try engine.submit(GenerationRequest(prompt: [4, 5], maxTokens: 20, sampling: .greedy, stopTokens: [greedy[2]])) { event in
            if case .token = event { second.tokens += 1 }
            if case .finished(let r) = event { second.finish = r }
            return true
        }
        engine.runUntilIdle()
        XCTAssertEqual(first.finish, .cancelled)
        XCTAssertEqual(first.tokens, 3, "no token after the step that saw the cancellation")
        XCTAssertEqual(second.finish, .stop)
        XCTAssertEqual(second.tokens, greedy.firstIndex(of: greedy[2]))
    }

    func testTheBackgroundLoopServesRequestsFromOtherThreads() throws {
        let engine = InferenceEngine(weights: .float(Self.model()), slots: 2, threads: 2)
        engine.start()
        defer { engine.stop() }
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<3 {
            _ = try engine.submit(GenerationRequest(prompt: [1, 2, 3], maxTokens: 5, sampling: .greedy)) { event in
                if case .finished = event { done.signal() }
                return true
            }
        }
        for _ in 0..<3 { XCTAssertEqual(done.wait(timeout: .now() + 30), .success) }
    }
}

extension ModelConfig {
    /// The config a GGUF file without tokenizer metadata describes (its epsilon an f32).
    var asStoredInGGUF: ModelConfig {
        var c = self
        c.bosTokenId = nil
        c.eosTokenId = nil
        c.normEps = Double(Float(normEps))
        return c
    }
}
