import PipeKit
import Transformer
import XCTest

/// Generation with the KV cache against full forward passes over the whole sequence.
final class GeneratorTests: XCTestCase {
    /// Greedy continuation recomputing the whole sequence each step (no cache).
    private func greedyWithoutCache(_ model: TransformerModel, prompt: [Int32], count: Int) -> (tokens: [Int32], logits: [[Float]]) {
        var sequence = prompt, produced: [Int32] = [], allLogits: [[Float]] = []
        for _ in 0..<count {
            let acts = Activations(config: model.config, batch: 1, seq: sequence.count, workers: Workers(2), training: false)
            for (i, t) in sequence.enumerated() { acts.tokens[i] = t }
            let logits = UnsafeMutablePointer<Float>.allocate(capacity: sequence.count * model.config.vocabSize)
            defer { logits.deallocate() }
            model.logits(acts, into: logits)
            let last = Array(UnsafeBufferPointer(start: logits + (sequence.count - 1) * model.config.vocabSize, count: model.config.vocabSize))
            allLogits.append(last)
            let next = Int32(last.indices.max { last[$0] < last[$1] }!)
            produced.append(next)
            sequence.append(next)
        }
        return (produced, allLogits)
    }

    func testCachedGenerationEqualsFullRecomputation() {
        for config in [TinyModels.grouped, TinyModels.tied, TinyModels.queryKeyNormed] {
            let model = TinyModels.model(config, scale: 3)
            let prompt: [Int32] = [1, 5, 2]
            let reference = greedyWithoutCache(model, prompt: prompt, count: config.context - prompt.count)
            let generator = Generator(model: model)
            var sampler = Sampler()
            var logits = UnsafeBufferPointer<Float>(start: nil, count: 0)
            for t in prompt { logits = generator.step(t) }
            var produced: [Int32] = []
            for i in 0..<reference.tokens.count {
                let worst = zip(Array(logits), reference.logits[i]).map { abs($0 - $1) }.max()!
                XCTAssertLessThan(worst, 1e-4, "step \(i): cached logits differ from the full pass")
                let next = sampler.next(logits)
                produced.append(next)
                if generator.remaining > 0 { logits = generator.step(next) }
            }
            XCTAssertEqual(produced, reference.tokens)
            XCTAssertEqual(generator.remaining, 0)
        }
    }

    func testSamplingIsSeededAndTruncated() {
        var logits = [Float](repeating: -10, count: 50)
        logits[7] = 5
        logits[9] = 4.5
        logits[3] = 4
        logits.withUnsafeBufferPointer { buffer in
            var a = Sampler(temperature: 1, topK: 2, seed: 42), b = Sampler(temperature: 1, topK: 2, seed: 42)
            let first = (0..<200).map { _ in a.next(buffer) }
            XCTAssertEqual(first, (0..<200).map { _ in b.next(buffer) }, "same seed, same samples")
            XCTAssertEqual(Set(first), [7, 9], "top-k 2 keeps only the two best")
            var nucleus = Sampler(temperature: 1, topP: 0.5, seed: 1)
            XCTAssertEqual(Set((0..<100).map { _ in nucleus.next(buffer) }), [7], "top-p 0.5 is within the best token's mass")
            var greedy = Sampler()
            XCTAssertEqual(greedy.next(buffer), 7)
        }
    }
}
