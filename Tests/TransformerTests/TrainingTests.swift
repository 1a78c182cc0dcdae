import PipeKit
import Transformer
import XCTest

/// The optimizer and schedule doing their job on the real model.
final class TrainingTests: XCTestCase {
    func testTinyModelOverfitsOneBatch() {
        let config = ModelConfig(vocabSize: 31, dim: 32, layers: 2, heads: 4, kvHeads: 2, ffnDim: 64, context: 16)
        let model = TransformerModel(config: config)
        model.initialize(seed: 5)
        let acts = TinyModels.batch(config, batch: 4, seq: 16, workers: 2)
        let gradients = FloatBuffer(count: model.layout.count)
        var settings = AdamW.Settings()
        settings.weightDecay = 0
        let optimizer = AdamW(layout: model.layout, settings: settings)
        var first = 0.0, last = 0.0
        for step in 0..<300 {
            gradients.zero()
            let loss = model.run(acts, gradients: gradients, gradScale: 1 / Float(acts.rows)) / Double(acts.rows)
            if step == 0 { first = loss }
            last = loss
            optimizer.update(parameters: model.parameters, gradients: gradients, lr: 1e-2, workers: Workers(2))
        }
        XCTAssertEqual(first, log(31), accuracy: 0.3, "starts near a uniform guess")
        XCTAssertLessThan(last, 0.05, "memorizes the batch")
    }

    func testZeroInitializedProjectionsStartAtZeroAndStillLearn() {
        let config = ModelConfig(vocabSize: 31, dim: 32, layers: 2, heads: 4, kvHeads: 2, ffnDim: 64, context: 16)
        let standard = TransformerModel(config: config), zeroed = TransformerModel(config: config)
        standard.initialize(seed: 5)
        zeroed.initialize(seed: 5, zeroResidualProjections: true)
        for t in zeroed.layout.tensors {
            let a = UnsafeBufferPointer(start: standard.parameters.pointer + t.offset, count: t.count)
            let b = UnsafeBufferPointer(start: zeroed.parameters.pointer + t.offset, count: t.count)
            if t.name.hasSuffix("o_proj.weight") || t.name.hasSuffix("down_proj.weight") {
                XCTAssertTrue(b.allSatisfy { $0 == 0 }, t.name)
            } else {
                XCTAssertEqual(Array(a), Array(b), "\(t.name) starts as in the standard initialization")
            }
        }
        // Gradients reach the zeroed projections (their inputs are not zero), so it learns.
        let acts = TinyModels.batch(config, batch: 4, seq: 16, workers: 2)
        let gradients = FloatBuffer(count: zeroed.layout.count)
        var settings = AdamW.Settings()
        settings.weightDecay = 0
        let optimizer = AdamW(layout: zeroed.layout, settings: settings)
        var last = 0.0
        for _ in 0..<300 {
            gradients.zero()
            last = zeroed.run(acts, gradients: gradients, gradScale: 1 / Float(acts.rows)) / Double(acts.rows)
            optimizer.update(parameters: zeroed.parameters, gradients: gradients, lr: 1e-2, workers: Workers(2))
        }
        XCTAssertLessThan(last, 0.05, "memorizes the batch")
    }

    func testScheduleWarmsUpThenDecaysToTheFloor() {
        let s = LearningRateSchedule(peak: 1e-3, minimum: 1e-4, warmupSteps: 10, totalSteps: 110, decay: .cosine)
        XCTAssertEqual(s.rate(at: 0), 1e-3 / 11, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 10), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 60), 5.5e-4, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 110), 1e-4, accuracy: 1e-12)
        let linear = LearningRateSchedule(peak: 1, minimum: 0, warmupSteps: 0, totalSteps: 100, decay: .linear)
        XCTAssertEqual(linear.rate(at: 25), 0.75, accuracy: 1e-12)
        XCTAssertEqual(LearningRateSchedule(peak: 1, minimum: 0, warmupSteps: 0, totalSteps: 100, decay: .constant).rate(at: 99), 1)
    }

    func testParameterCountFollowsTheConvention() {
        // Embeddings counted, tied head counted once: V·C + L·(2C + 2C² + 2·kv·C + 3·C·F) + C.
        let tied = ModelConfig(vocabSize: 100, dim: 64, layers: 2, heads: 4, kvHeads: 2, context: 32)
        XCTAssertEqual(tied.ffnDim, 160, "nearest multiple of 32 to 8·64/3 = 170.7")
        XCTAssertEqual(tied.parameterCount, 100 * 64 + 2 * (2 * 64 + 2 * 64 * 64 + 2 * 32 * 64 + 3 * 64 * 160) + 64)
        XCTAssertEqual(TransformerModel(config: tied).layout.count, tied.parameterCount)
        var untied = tied
        untied.tieEmbeddings = false
        XCTAssertEqual(untied.parameterCount - tied.parameterCount, 100 * 64)
        XCTAssertEqual(TransformerModel(config: untied).layout.count, untied.parameterCount)
    }

    func testSafeTensorsRoundTrip() throws {
        let model = TinyModels.model(TinyModels.grouped)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try ModelFiles.save(model, to: folder)
        let loaded = try ModelFiles.load(from: folder)
        XCTAssertEqual(loaded.config, model.config)
        XCTAssertEqual(Array(loaded.parameters.slice(0, loaded.parameters.count)), Array(model.parameters.slice(0, model.parameters.count)))
        let header = try Data(contentsOf: folder.appendingPathComponent("model.safetensors"))
        let length = header.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
        XCTAssertEqual(length % 8, 0, "header padded to 8 bytes")
    }
}
