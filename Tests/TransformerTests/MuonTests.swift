import Foundation
import PipeKit
import Transformer
import XCTest

/// Muon against a float64 reference written from its definition (momentum, Nesterov, five
/// quintic Newton–Schulz iterations on the wide orientation, the shape scale, decoupled decay),
/// with AdamW on the embedding and the norm beside it, and the warmup-stable-decay schedule.
final class MuonTests: XCTestCase {
    /// A small buffer: an embedding and a norm (AdamW), a wide and a tall matrix (Muon).
    static let tensors = [
        ParameterLayout.Tensor(name: "model.embed_tokens.weight", shape: [5, 4], offset: 0),
        ParameterLayout.Tensor(name: "model.norm.weight", shape: [4], offset: 20),
        ParameterLayout.Tensor(name: "model.layers.0.self_attn.q_proj.weight", shape: [3, 7], offset: 24),
        ParameterLayout.Tensor(name: "model.layers.0.mlp.down_proj.weight", shape: [9, 4], offset: 45),
    ]
    static let count = 81

    /// The reference: one update of the whole buffer in float64.
    struct Reference {
        var p: [Double], m: [Double], v: [Double]
        var step = 0
        let adam: AdamW.Settings, muon: MuonAdamW.Settings

        mutating func update(_ g: [Double], lr: Double, peak: Double) {
            let norm = g.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let scale = adam.clip > 0 && norm > Double(adam.clip) ? Double(adam.clip) / norm : 1
            step += 1
            let (b1, b2) = (Double(adam.beta1), Double(adam.beta2))
            let bc1 = 1 - pow(b1, Double(step)), bc2 = 1 - pow(b2, Double(step))
            for t in MuonTests.tensors {
                let range = t.offset..<(t.offset + t.count)
                if t.shape.count == 1 || t.isEmbedding {
                    let decay = t.isNorm ? 0 : Double(adam.weightDecay)
                    for i in range {
                        let gi = g[i] * scale
                        m[i] = b1 * m[i] + (1 - b1) * gi
                        v[i] = b2 * v[i] + (1 - b2) * gi * gi
                        p[i] = p[i] * (1 - lr * decay) - lr / bc1 * m[i] / ((v[i] / bc2).squareRoot() + Double(adam.eps))
                    }
                    continue
                }
                let (rows, cols) = (t.shape[0], t.shape[1]), mu = Double(muon.momentum)
                var u = [[Double]](repeating: [Double](repeating: 0, count: cols), count: rows)
                for r in 0..<rows {
                    for c in 0..<cols {
                        let i = t.offset + r * cols + c, gi = g[i] * scale
                        m[i] = mu * m[i] + gi
                        u[r][c] = muon.nesterov ? gi + mu * m[i] : m[i]
                    }
                }
                var x = rows > cols ? MuonTests.transpose(u) : u
                let norm = x.joined().reduce(0) { $0 + $1 * $1 }.squareRoot()
                x = x.map { $0.map { $0 / (norm + 1e-7) } }
                for _ in 0..<muon.iterations {
                    let a = MuonTests.multiply(x, MuonTests.transpose(x))
                    let aa = MuonTests.multiply(a, a)
                    let b = zip(a, aa).map { zip($0, $1).map { -4.7750 * $0 + 2.0315 * $1 } }
                    let bx = MuonTests.multiply(b, x)
                    x = zip(x, bx).map { zip($0, $1).map { 3.4445 * $0 + $1 } }
                }
                if rows > cols { x = MuonTests.transpose(x) }
                let rate = Double(muon.lr) * lr / peak
                let shape = max(1, Double(rows) / Double(cols)).squareRoot()
                for r in 0..<rows {
                    for c in 0..<cols {
                        let i = t.offset + r * cols + c
                        p[i] = p[i] * (1 - rate * Double(muon.weightDecay)) - rate * shape * x[r][c]
                    }
                }
            }
        }
    }

    static func transpose(_ a: [[Double]]) -> [[Double]] {
        (0..<a[0].count).map { c in a.map { $0[c] } }
    }

    static func multiply(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { row in (0..<b[0].count).map { c in zip(row, b).reduce(0) { $0 + $1.0 * $1.1[c] } } }
    }

    func testMuonAndAdamWStepsMatchTheFloat64Reference() {
        var adam = AdamW.Settings()
        adam.clip = 1.0
        var muon = MuonAdamW.Settings()
        muon.weightDecay = 0.1
        for nesterov in [true, false] {
            muon.nesterov = nesterov
            var rng = SplitMix64(seed: 7)
            let parameters = FloatBuffer(count: Self.count), gradients = FloatBuffer(count: Self.count)
            for i in 0..<Self.count { parameters.pointer[i] = Float(rng.nextUnit() - 0.5) }
            var reference = Reference(p: (0..<Self.count).map { Double(parameters.pointer[$0]) }, m: Array(repeating: 0, count: Self.count),
                                      v: Array(repeating: 0, count: Self.count), adam: adam, muon: muon)
            let optimizer = MuonAdamW(tensors: Self.tensors, count: Self.count, adamW: adam, adamWPeak: 1e-3, settings: muon, workers: 2)
            XCTAssertEqual(optimizer.matrices.map(\.shape), [[3, 7], [9, 4]])
            for (step, lr) in [1e-3, 8e-4, 5e-4].enumerated() {
                // Gradients of norm about 0.25, then about 2.5 (clipped), then 0.25.
                let size = step == 1 ? 0.6 : 0.06
                for i in 0..<Self.count { gradients.pointer[i] = Float((rng.nextUnit() - 0.5) * size) }
                let g = (0..<Self.count).map { Double(gradients.pointer[$0]) }
                let norm = optimizer.update(parameters: parameters, gradients: gradients, lr: Float(lr), workers: Workers(2))
                XCTAssertEqual(norm, g.reduce(0) { $0 + $1 * $1 }.squareRoot(), accuracy: 1e-6)
                reference.update(g, lr: lr, peak: 1e-3)
                for i in 0..<Self.count {
                    XCTAssertEqual(Double(parameters.pointer[i]), reference.p[i], accuracy: 2e-6 + 1e-5 * abs(reference.p[i]),
                                   "nesterov \(nesterov), step \(step), parameter \(i)")
                    XCTAssertEqual(Double(optimizer.m.pointer[i]), reference.m[i], accuracy: 1e-6 + 1e-5 * abs(reference.m[i]))
                }
            }
        }
    }

    func testNewtonSchulzBringsTheUpdatesSingularValuesNearOne() {
        // One step from zero momentum: the update of a matrix is its orthogonalized gradient,
        // scaled by the rate; its Gram matrix X·Xᵀ is then near the identity (NS5 leaves the
        // singular values within about [0.7, 1.2]).
        let t = ParameterLayout.Tensor(name: "model.layers.0.self_attn.o_proj.weight", shape: [6, 10], offset: 0)
        var muon = MuonAdamW.Settings()
        muon.nesterov = false
        let optimizer = MuonAdamW(tensors: [t], count: 60, adamW: AdamW.Settings(), adamWPeak: 1, settings: muon, workers: 1)
        let parameters = FloatBuffer(count: 60), gradients = FloatBuffer(count: 60)
        var rng = SplitMix64(seed: 3)
        for i in 0..<60 { gradients.pointer[i] = Float(rng.nextUnit() - 0.5) * 0.01 }
        optimizer.update(parameters: parameters, gradients: gradients, lr: 1, workers: Workers(1))
        let x = (0..<6).map { r in (0..<10).map { -Double(parameters.pointer[r * 10 + $0]) / Double(muon.lr) } }
        let gram = Self.multiply(x, Self.transpose(x))
        for r in 0..<6 {
            XCTAssertEqual(gram[r][r], 1, accuracy: 0.5, "row \(r)")
            for c in 0..<6 where c != r { XCTAssertEqual(gram[r][c], 0, accuracy: 0.3, "(\(r), \(c))") }
        }
    }

    func testWarmupStableDecayHoldsThePeakThenDecaysLinearly() {
        let s = LearningRateSchedule(peak: 1, minimum: 0.1, warmupSteps: 10, totalSteps: 100, decay: .wsd, cooldown: 0.2)
        XCTAssertEqual(s.rate(at: 0), 1.0 / 11, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 10), 1)
        XCTAssertEqual(s.rate(at: 79), 1, "stable until the last 20 steps")
        XCTAssertEqual(s.rate(at: 80), 1, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 90), 0.55, accuracy: 1e-12)
        XCTAssertEqual(s.rate(at: 100), 0.1, accuracy: 1e-12)
        // A cooldown longer than the steps after warmup starts right after warmup.
        let short = LearningRateSchedule(peak: 1, minimum: 0, warmupSteps: 10, totalSteps: 20, decay: .wsd, cooldown: 0.9)
        XCTAssertEqual(short.rate(at: 15), 0.5, accuracy: 1e-12)
    }
}
