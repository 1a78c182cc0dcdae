import Foundation
import PipeKit
import Transformer
import XCTest

/// Examples packed into one row neither see each other nor change their positions: the packed
/// row's loss and gradients are the sums of each example's run alone.
final class PackingTests: XCTestCase {
    func testPackedRowEqualsItsExamplesRunAlone() {
        let config = TinyModels.grouped
        let model = TinyModels.model(config)
        let lengths = [3, 5, 4]
        XCTAssertEqual(lengths.reduce(0, +), config.context)
        var rng = SplitMix64(seed: 11)
        let tokens = (0..<config.context).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        // Prompt-like positions are masked: the first of every example, and every third.
        let targets = (0..<config.context).map { t in t % 3 == 0 ? Int32(-1) : Int32(rng.next() % UInt64(config.vocabSize)) }

        let packed = Activations(config: config, batch: 1, seq: config.context, workers: Workers(2), training: true)
        var first = 0
        for length in lengths {
            for t in first..<first + length {
                packed.tokens[t] = tokens[t]
                packed.targets[t] = targets[t]
                packed.segmentStarts[t] = Int32(first)
            }
            first += length
        }
        let packedGradients = FloatBuffer(count: model.layout.count)
        let packedLoss = model.run(packed, gradients: packedGradients)

        let separateGradients = FloatBuffer(count: model.layout.count)
        var separateLoss = 0.0
        first = 0
        for length in lengths {
            let alone = Activations(config: config, batch: 1, seq: length, workers: Workers(2), training: true)
            for t in 0..<length {
                alone.tokens[t] = tokens[first + t]
                alone.targets[t] = targets[first + t]
            }
            separateLoss += model.run(alone, gradients: separateGradients)
            first += length
        }

        XCTAssertEqual(packedLoss, separateLoss, accuracy: 1e-5 * abs(separateLoss))
        let a = packedGradients.slice(0, model.layout.count), b = separateGradients.slice(0, model.layout.count)
        let difference = zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
        let size = b.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertGreaterThan(size, 0)
        XCTAssertLessThan(difference, 1e-5 * size, "relative gradient difference \(difference / size)")
    }

    func testMaskedTargetsAddNoLossAndNoGradient() {
        let config = TinyModels.tied
        let model = TinyModels.model(config)
        let acts = TinyModels.batch(config, batch: 2, seq: config.context, workers: 1)
        for r in 0..<acts.rows { acts.targets[r] = -1 }
        let gradients = FloatBuffer(count: model.layout.count)
        XCTAssertEqual(model.run(acts, gradients: gradients), 0)
        XCTAssertTrue(gradients.slice(0, model.layout.count).allSatisfy { $0 == 0 })
    }

    func testGrowingTheVocabularyKeepsTheOldRowsAndAveragesThemForTheNew() {
        let config = TinyModels.grouped
        let model = TinyModels.model(config)
        let grown = model.growingVocabulary(to: config.vocabSize + 2)
        XCTAssertEqual(grown.config.vocabSize, config.vocabSize + 2)
        for name in ["model.embed_tokens.weight", "lm_head.weight"] {
            let old = model.layout.tensor(named: name)!, new = grown.layout.tensor(named: name)!
            let before = model.parameters.slice(old.offset, old.count), after = grown.parameters.slice(new.offset, new.count)
            XCTAssertEqual(Array(after.prefix(old.count)), Array(before))
            for i in 0..<config.dim {
                let mean = (0..<config.vocabSize).reduce(0.0) { $0 + Double(before[$1 * config.dim + i]) } / Double(config.vocabSize)
                XCTAssertEqual(Double(after[old.count + i]), mean, accuracy: 1e-6)
                XCTAssertEqual(after[old.count + i], after[old.count + config.dim + i])
            }
        }
        let norm = model.layout.tensor(named: "model.norm.weight")!, grownNorm = grown.layout.tensor(named: "model.norm.weight")!
        XCTAssertEqual(Array(model.parameters.slice(norm.offset, norm.count)), Array(grown.parameters.slice(grownNorm.offset, grownNorm.count)))
    }
}
