import CTrainKernels
import PipeKit
import Transformer
import XCTest

/// Every backward pass against central finite differences of its forward pass, along seeded
/// random directions: each kernel on its own, then the whole model tensor by tensor.
final class GradientCheckTests: XCTestCase {
    /// Checks that ⟨gradient, d⟩ matches (f(x + εd) − f(x − εd)) / 2ε for a random ±1 direction d.
    private func checkDirectional(_ name: String, inputs: inout [Float], eps: Float = 1e-2, tolerance: Double = 1e-2,
                                  seed: UInt64 = 1, file: StaticString = #filePath, line: UInt = #line,
                                  loss: ([Float]) -> Double, gradient: ([Float]) -> [Float])
    {
        var rng = SplitMix64(seed: seed)
        let direction = inputs.map { _ in rng.next() & 1 == 0 ? Float(1) : -1 }
        let g = gradient(inputs)
        let analytic = zip(g, direction).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let plus = zip(inputs, direction).map { $0 + eps * $1 }, minus = zip(inputs, direction).map { $0 - eps * $1 }
        let numeric = (loss(plus) - loss(minus)) / Double(2 * eps)
        XCTAssertEqual(analytic, numeric, accuracy: tolerance * max(abs(numeric), 0.1), "\(name): analytic \(analytic), numeric \(numeric)",
                       file: file, line: line)
    }

    /// A fixed random "upstream gradient" w, so every kernel is checked through L = ⟨w, f(x)⟩.
    private func weights(_ n: Int, seed: UInt64 = 9) -> [Float] {
        var rng = SplitMix64(seed: seed)
        return (0..<n).map { _ in Float(rng.nextUnit() * 2 - 1) }
    }

    private func dot(_ a: [Float], _ b: [Float]) -> Double { zip(a, b).reduce(0.0) { $0 + Double($1.0) * Double($1.1) } }

    func testRMSNormKernel() {
        let rows = 3, dim = 16
        var x = weights(rows * dim, seed: 1).map { $0 * 2 }
        let w = weights(dim, seed: 2), up = weights(rows * dim, seed: 3)
        func forward(_ x: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: x.count), rstd = [Float](repeating: 0, count: rows)
            tk_rmsnorm_forward(&out, &rstd, x, w, rows, dim, 1e-5)
            return out
        }
        checkDirectional("rmsnorm input", inputs: &x, loss: { dot(up, forward($0)) }) { x in
            var rstd = [Float](repeating: 0, count: rows), out = x, dx = [Float](repeating: 0, count: x.count)
            var dw = [Float](repeating: 0, count: dim)
            tk_rmsnorm_forward(&out, &rstd, x, w, rows, dim, 1e-5)
            tk_rmsnorm_backward(&dx, &dw, up, x, w, rstd, rows, dim)
            return dx
        }
        var wv = w
        checkDirectional("rmsnorm weight", inputs: &wv, loss: { w in
            var out = x, rstd = [Float](repeating: 0, count: rows)
            tk_rmsnorm_forward(&out, &rstd, x, w, rows, dim, 1e-5)
            return dot(up, out)
        }) { w in
            var rstd = [Float](repeating: 0, count: rows), out = x, dx = [Float](repeating: 0, count: x.count)
            var dw = [Float](repeating: 0, count: dim)
            tk_rmsnorm_forward(&out, &rstd, x, w, rows, dim, 1e-5)
            tk_rmsnorm_backward(&dx, &dw, up, x, w, rstd, rows, dim)
            return dw
        }
    }

    func testSwiGLUKernel() {
        let rows = 2, ffn = 40
        var gu = weights(rows * 2 * ffn, seed: 4).map { $0 * 3 }
        let up = weights(rows * ffn, seed: 5)
        checkDirectional("swiglu", inputs: &gu, eps: 1e-3, loss: { gu in
            var m = [Float](repeating: 0, count: rows * ffn)
            tk_swiglu_forward(&m, gu, rows, ffn)
            return dot(up, m)
        }) { gu in
            var d = [Float](repeating: 0, count: gu.count)
            tk_swiglu_backward(&d, up, gu, rows, ffn)
            return d
        }
    }

    func testCausalSoftmaxKernel() {
        // Rows 5..<9 of a block whose first row is 5: row r sees columns 0...5+r, width 12.
        let rows = 4, width = 12, first = 5, scale: Float = 0.7
        var s = weights(rows * width, seed: 6).map { $0 * 4 }
        let up = weights(rows * width, seed: 7)
        func forward(_ s: [Float]) -> [Float] {
            var p = s
            tk_softmax_causal(&p, width, rows, first, width, scale)
            return p
        }
        let p = forward(s)
        for r in 0..<rows {
            XCTAssertEqual(p[r * width..<r * width + first + r + 1].reduce(0, +), 1, accuracy: 1e-5)
            XCTAssertTrue(p[r * width + first + r + 1..<(r + 1) * width].allSatisfy { $0 == 0 })
        }
        checkDirectional("softmax", inputs: &s, eps: 1e-3, loss: { dot(up, forward($0)) }) { s in
            var d = up
            tk_softmax_causal_backward(&d, forward(s), width, rows, first, width, scale)
            return d
        }
    }

    func testCrossEntropyKernel() {
        let rows = 3, vocab = 50
        var logits = weights(rows * vocab, seed: 8).map { $0 * 5 }
        let targets: [Int32] = [3, 49, 0]
        let reference = (0..<rows).map { r -> Double in
            let row = logits[r * vocab..<(r + 1) * vocab].map(Double.init)
            let mx = row.max()!
            return log(row.map { exp($0 - mx) }.reduce(0, +)) + mx - row[Int(targets[r])]
        }.reduce(0, +)
        var scratch = logits
        XCTAssertEqual(tk_cross_entropy(&scratch, targets, rows, vocab, 0, nil, nil), reference, accuracy: 1e-5)
        checkDirectional("cross-entropy", inputs: &logits, eps: 1e-3, loss: { l in
            var l = l
            return tk_cross_entropy(&l, targets, rows, vocab, 0, nil, nil)
        }) { l in
            var l = l
            _ = tk_cross_entropy(&l, targets, rows, vocab, 1, nil, nil)
            return l
        }
    }

    func testDistillationKernel() {
        let rows = 3, vocab = 40
        var logits = weights(rows * vocab, seed: 12).map { $0 * 4 }
        let teacher = weights(rows * vocab, seed: 13).map { $0 * 4 }
        let targets: [Int32] = [1, 39, 7]
        // alpha 0 is plain cross-entropy; alpha 1 with the student equal to the teacher is zero.
        var a = logits, b = logits
        XCTAssertEqual(tk_distillation(&a, teacher, targets, rows, vocab, 2, 0, 0), tk_cross_entropy(&b, targets, rows, vocab, 0, nil, nil), accuracy: 1e-4)
        var same = teacher
        XCTAssertEqual(tk_distillation(&same, teacher, targets, rows, vocab, 2, 1, 0), 0, accuracy: 1e-5)
        checkDirectional("distillation", inputs: &logits, eps: 1e-3, loss: { l in
            var l = l
            return tk_distillation(&l, teacher, targets, rows, vocab, 2, 0.7, 0)
        }) { l in
            var l = l
            _ = tk_distillation(&l, teacher, targets, rows, vocab, 2, 0.7, 1)
            return l
        }
    }

    func testRoPEInverseIsTranspose() {
        // A rotation's gradient is its inverse applied to the upstream gradient.
        let rows = 3, heads = 2, hd = 8, half = hd / 2
        let angles = (0..<rows * half).map { Double($0) * 0.37 }
        let cosT = angles.map { Float(cos($0)) }, sinT = angles.map { Float(sin($0)) }
        var x = weights(rows * heads * hd, seed: 10)
        let up = weights(rows * heads * hd, seed: 11)
        func rotate(_ v: [Float], inverse: Bool) -> [Float] {
            var v = v
            tk_rope(&v, rows, heads * hd, heads, hd, 0, cosT, sinT, inverse ? 1 : 0)
            return v
        }
        XCTAssertEqual(rotate(rotate(x, inverse: false), inverse: true), x.map { $0 }, "inverse undoes the rotation",
                       accuracyCheck: 1e-6)
        checkDirectional("rope", inputs: &x, loss: { dot(up, rotate($0, inverse: false)) }) { _ in rotate(up, inverse: true) }
    }

    /// The whole model, one tensor at a time: the loss's change along a random direction in that
    /// tensor against the gradient the backward pass produced.
    private func checkModel(_ config: ModelConfig, workers: Int, checkpointing: Bool = false, file: StaticString = #filePath, line: UInt = #line) {
        let model = TinyModels.model(config)
        let acts = TinyModels.batch(config, batch: 2, seq: config.context, workers: workers, checkpointing: checkpointing)
        let gradients = FloatBuffer(count: model.layout.count)
        let scale = 1 / Double(acts.rows)
        model.run(acts, gradients: gradients, gradScale: Float(scale))
        for t in model.layout.tensors {
            var values = Array(model.parameters.slice(t.offset, t.count))
            let original = values
            let grad = Array(gradients.slice(t.offset, t.count))
            checkDirectional(t.name, inputs: &values, eps: 1e-3, tolerance: 2e-2, seed: UInt64(t.offset), file: file, line: line,
                             loss: { v in
                                 v.withUnsafeBufferPointer { model.parameters.pointer.advanced(by: t.offset).update(from: $0.baseAddress!, count: t.count) }
                                 return model.run(acts) * scale
                             }, gradient: { _ in grad })
            original.withUnsafeBufferPointer { model.parameters.pointer.advanced(by: t.offset).update(from: $0.baseAddress!, count: t.count) }
        }
    }

    func testModelGradientsGroupedUntied() { checkModel(TinyModels.grouped, workers: 2) }
    func testModelGradientsTied() { checkModel(TinyModels.tied, workers: 1) }
    func testModelGradientsAcrossAttentionBlocks() { checkModel(TinyModels.longSequence, workers: 2) }
    func testModelGradientsWithQKNorm() { checkModel(TinyModels.queryKeyNormed, workers: 2) }

    func testCheckpointingGivesIdenticalGradients() {
        for config in [TinyModels.grouped, TinyModels.queryKeyNormed] {
            let model = TinyModels.model(config)
            var results: [[Float]] = []
            for checkpointing in [false, true] {
                let acts = TinyModels.batch(config, batch: 2, seq: config.context, workers: 2, checkpointing: checkpointing)
                let g = FloatBuffer(count: model.layout.count)
                model.run(acts, gradients: g, gradScale: 0.1)
                results.append(Array(g.slice(0, g.count)))
            }
            XCTAssertEqual(results[0], results[1], "qkNorm \(config.qkNorm)")
        }
    }
}

private func XCTAssertEqual(_ a: [Float], _ b: [Float], _ message: String, accuracyCheck: Float, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(worst, accuracyCheck, message, file: file, line: line)
}
