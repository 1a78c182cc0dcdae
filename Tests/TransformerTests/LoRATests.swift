import PipeKit
import Training
import Transformer
import XCTest

/// LoRA adapters train the merged model's loss: their gradients (from the merged weight's by
/// the chain rule) match central finite differences of the merged forward pass, and zero B
/// leaves the pretrained weights exactly as they were.
final class LoRATests: XCTestCase {
    private func setUp(_ config: ModelConfig) -> (TransformerModel, LoRAAdapters, Activations) {
        let model = TinyModels.model(config)
        let adapters = LoRAAdapters(model: model, rank: 2, alpha: 4, targets: ["q_proj", "v_proj", "down_proj"], seed: 5)
        return (model, adapters, TinyModels.batch(config, batch: 2, seq: config.context, workers: 2))
    }

    func testZeroBStartsFromThePretrainedWeights() {
        let (model, adapters, _) = setUp(TinyModels.grouped)
        let before = Array(model.parameters.slice(0, model.parameters.count))
        adapters.apply(to: model, workers: Workers(2))
        XCTAssertEqual(Array(model.parameters.slice(0, model.parameters.count)), before)
        XCTAssertEqual(adapters.count, 2 * (2 * (16 + 16) + 2 * (16 + 8) + 2 * (32 + 16)), "A and B of q, v and down in both layers")
    }

    func testAdapterGradientsMatchFiniteDifferencesOfTheMergedModel() {
        let (model, adapters, acts) = setUp(TinyModels.grouped)
        let workers = Workers(2)
        var rng = SplitMix64(seed: 17)
        for i in 0..<adapters.count { adapters.values.pointer[i] = Float((rng.nextUnit() - 0.5) * 0.4) }  // B non-zero too
        adapters.apply(to: model, workers: workers)
        let full = FloatBuffer(count: model.layout.count)
        model.run(acts, gradients: full, gradScale: 1 / Float(acts.rows))
        let analytic = FloatBuffer(count: adapters.count)
        adapters.gradients(from: full, into: analytic, workers: workers)

        func loss() -> Double {
            adapters.apply(to: model, workers: workers)
            return model.run(acts) / Double(acts.rows)
        }
        // Every tensor of the adapters along a random ±1 direction, then single values.
        for t in adapters.tensors {
            let direction = (0..<t.count).map { _ in rng.next() & 1 == 0 ? Float(1) : -1 }
            let eps: Float = 1e-2
            let saved = Array(adapters.values.slice(t.offset, t.count))
            for i in 0..<t.count { adapters.values.pointer[t.offset + i] = saved[i] + eps * direction[i] }
            let plus = loss()
            for i in 0..<t.count { adapters.values.pointer[t.offset + i] = saved[i] - eps * direction[i] }
            let minus = loss()
            for i in 0..<t.count { adapters.values.pointer[t.offset + i] = saved[i] }
            let numeric = (plus - minus) / Double(2 * eps)
            let exact = (0..<t.count).reduce(0.0) { $0 + Double(analytic.pointer[t.offset + $1] * direction[$1]) }
            XCTAssertEqual(exact, numeric, accuracy: 2e-2 * max(abs(numeric), 0.05), "\(t.name): analytic \(exact), numeric \(numeric)")
        }
    }

    func testTheMergedWeightIsTheFrozenOnePlusTheScaledProduct() {
        let (model, adapters, _) = setUp(TinyModels.tied)
        let q = model.layout.tensor(named: "model.layers.1.self_attn.q_proj.weight")!
        let frozen = Array(model.parameters.slice(q.offset, q.count))
        var rng = SplitMix64(seed: 3)
        for i in 0..<adapters.count { adapters.values.pointer[i] = Float(rng.nextUnit() - 0.5) }
        adapters.apply(to: model, workers: Workers(1))
        let a = adapters.tensors.first { $0.name == "model.layers.1.self_attn.q_proj.lora_A.weight" }!
        let b = adapters.tensors.first { $0.name == "model.layers.1.self_attn.q_proj.lora_B.weight" }!
        let rows = q.shape[0], columns = q.shape[1]
        for r in 0..<rows {
            for c in 0..<columns {
                var product = 0.0
                for k in 0..<2 { product += Double(adapters.values.pointer[b.offset + r * 2 + k]) * Double(adapters.values.pointer[a.offset + k * columns + c]) }
                XCTAssertEqual(Double(model.parameters.pointer[q.offset + r * columns + c]), Double(frozen[r * columns + c]) + 2 * product, accuracy: 1e-5)
            }
        }
    }
}
