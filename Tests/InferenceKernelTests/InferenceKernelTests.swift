import CInferenceKernels
import Transformer
import XCTest

/// The inference kernels against Transformer's GGMLType (the Swift reference of the block
/// formats), for every kernel variant this CPU supports.
///
/// Tolerances. Each product is checked twice:
///  1. Against the dot product, in double, of the dequantized weights and the dequantized
///     *prepared* activations. Quantized blocks are multiplied as integers (exact), so the only
///     error is float arithmetic: the per-block scale d_w * d_x and its product with the integer
///     sum (2 roundings), and float accumulation over at most n terms in any order, each adding
///     at most one unit roundoff u = 2^-24 of the running sum. Hence
///     |y - ref| <= (n + 4) * u * sum |w_i * x_i| with n = blocks (Q8_0, Q4_0) or cols (f32, f16).
///  2. Against the original f32 activations, which bounds what preparing them loses:
///     - Q8_0: per block d = amax / 127 and q = round(x / d), so |x - d q| <= d / 2; the stored
///       scale is fp16(d), off by at most d * 2^-11 (relative half-precision rounding), times
///       |q| <= 127. Per element |x - x_q| <= d * (1/2 + 127 / 2048), so the error of the product
///       is at most sum over blocks of d * (1/2 + 127/2048) * sum over the block of |w_deq|.
///     - f16: |x - f16(x)| <= 2^-11 |x| (normal range) or 2^-25 (subnormal), so at most
///       2^-11 * sum |w_i x_i| + 2^-25 * sum |w_i|.
///     - f32: nothing.
///     plus the float bound of 1.
/// Variants are also compared with each other: their integer sums agree exactly, so they may
/// differ only by float accumulation order, within twice the bound of 1.
final class InferenceKernelTests: XCTestCase {
    static let types: [GGMLType] = [.f32, .f16, .q4_0, .q8_0]

    /// Variants this CPU runs, each forced in turn by `forEachVariant`.
    var supportedVariants: [Int32] { (0..<ik_variant_count()).filter { ik_variant_supported($0) != 0 } }

    override func tearDown() {
        _ = ik_force_variant(-1)
        super.tearDown()
    }

    func forEachVariant(_ body: (Int32, String) throws -> Void) rethrows {
        for v in supportedVariants {
            XCTAssertEqual(ik_force_variant(v), 1)
            XCTAssertEqual(ik_current_variant(), v)
            try body(v, String(cString: ik_variant_name(v)!))
        }
        _ = ik_force_variant(-1)
    }

    // MARK: - Variants and sizes

    func testVariantsAndSizes() {
        XCTAssertEqual(ik_variant_count(), 3)
        XCTAssertEqual(String(cString: ik_variant_name(0)!), "portable")
        XCTAssertEqual(String(cString: ik_variant_name(1)!), "avx2")
        XCTAssertEqual(String(cString: ik_variant_name(2)!), "avx512")
        XCTAssertNil(ik_variant_name(3))
        XCTAssertEqual(ik_variant_supported(0), 1)
        XCTAssertEqual(ik_variant_supported(7), 0)
        XCTAssertEqual(ik_force_variant(7), 0)
        // The default is the best supported variant.
        XCTAssertEqual(ik_force_variant(-1), 1)
        XCTAssertEqual(ik_current_variant(), supportedVariants.max())
        for v in 1..<ik_variant_count() where ik_variant_supported(v) == 0 { XCTAssertEqual(ik_force_variant(v), 0) }

        for type in Self.types {
            let t = Int32(type.rawValue)
            XCTAssertEqual(ik_weight_row_bytes(t, 4096), type.bytes(for: 4096))
            XCTAssertEqual(ik_activation_row_bytes(t, 4096), activationType(type).bytes(for: 4096))
        }
        XCTAssertEqual(ik_weight_row_bytes(Int32(IK_F16), 7), 14)
        XCTAssertEqual(ik_weight_row_bytes(Int32(IK_Q8_0), 48), 0)
        XCTAssertEqual(ik_activation_row_bytes(Int32(IK_Q4_0), 48), 0)
        XCTAssertEqual(ik_weight_row_bytes(3, 64), 0)
    }

    // MARK: - Preparing activations

    /// Floats that exercise Q8_0 quantization: random blocks of several magnitudes, an all-zero
    /// block, exact ties (x / d = k + 1/2), a block with one huge value, tiny values.
    func q8Inputs() -> [Float] {
        var rng = SplitMix(seed: 42)
        var x: [Float] = []
        for scale: Float in [1, 1e-3, 250, 3e4, 1e-6] {
            for _ in 0..<64 { x.append(rng.float(in: -scale...scale)) }
        }
        x += [Float](repeating: 0, count: 32)
        x += (0..<32).map { Float($0 - 16) * 0.5 } // amax 8: d = 8/127, many products land on ties
        x += (0..<32).map { Float($0 - 16) * 63.5 / 127 } // q = (j - 16) / 2 exactly half-way
        x += (0..<32).map { $0 == 5 ? -6e4 : Float($0) }
        x += (0..<32).map { Float($0) * 1e-9 }
        x += (0..<32).map { $0 % 2 == 0 ? 1 : -1 }
        return x
    }

    /// Q8_0 blocks as llama.cpp's CPU backend makes them from activations on x86 (ggml-cpu's
    /// quantize_row_q8_0): d = amax / 127 as fp16, q = x · (127 / amax) rounded to nearest even.
    /// (GGMLType.encode follows ggml's reference instead: x · (1 / d), ties away from zero.)
    static func llamaCPUActivations(_ x: [Float]) -> [UInt8] {
        var out: [UInt8] = []
        for block in stride(from: 0, to: x.count, by: 32) {
            let values = x[block..<block + 32]
            let amax = values.reduce(Float(0)) { max($0, abs($1)) }
            let id: Float = amax != 0 ? 127 / amax : 0
            withUnsafeBytes(of: Float16(amax / 127).bitPattern.littleEndian) { out += $0 }
            out += values.map { UInt8(bitPattern: Int8(($0 * id).rounded(.toNearestOrEven))) }
        }
        return out
    }

    func testQ8_0ActivationsRoundAsLlamaCppsCPUBackendBitForBit() {
        let x = q8Inputs()
        let expected = Self.llamaCPUActivations(x)
        forEachVariant { _, name in
            for type in [GGMLType.q8_0, .q4_0] {
                // One row of all the floats, and the same floats as rows of 64.
                for cols in [x.count, 64] {
                    var out = [UInt8](repeating: 0xAA, count: expected.count + 7)
                    ik_prepare_activations(Int32(type.rawValue), x, x.count / cols, cols, &out)
                    XCTAssertEqual(Array(out[0..<expected.count]), expected, "\(name) \(type.name) rows of \(cols)")
                    XCTAssertEqual(Array(out[expected.count...]), [UInt8](repeating: 0xAA, count: 7), "\(name) wrote past the end")
                }
            }
        }
    }

    func testF16ActivationsMatchSwiftFloat16() {
        var rng = SplitMix(seed: 7)
        var x: [Float] = (0..<1000).map { _ in rng.float(in: -2...2) * Float(pow(10.0, Double(rng.int(in: -9...5)))) }
        // Specials: zeros, the smallest subnormal and its half (a tie), ties between halves,
        // the largest half, values that round to infinity, infinities.
        x += [0, -0.0, 5.9604645e-8, 2.9802322e-8, -2.9802322e-8, 8.940697e-8, 1 + 1.0 / 2048, 1 + 3.0 / 2048,
              65504, 65519.99, 65520, -70000, .infinity, -.infinity, 6.097555e-5, 6.1035156e-5, 1e-30]
        let expected = x.map { Float16($0).bitPattern }
        forEachVariant { _, name in
            for cols in [x.count, 7, 1] where x.count % cols == 0 {
                var out = [UInt16](repeating: 0xAAAA, count: x.count + 3)
                ik_prepare_activations(Int32(IK_F16), x, x.count / cols, cols, &out)
                XCTAssertEqual(Array(out[0..<x.count]), expected, "\(name) rows of \(cols)")
                XCTAssertEqual(Array(out[x.count...]), [0xAAAA, 0xAAAA, 0xAAAA], "\(name) wrote past the end")
            }
        }
    }

    func testF32ActivationsAreCopied() {
        let x: [Float] = [1, -2.5, 3e-20, .infinity, 0]
        var out = [Float](repeating: 9, count: 6)
        ik_prepare_activations(Int32(IK_F32), x, 1, 5, &out)
        XCTAssertEqual(out, x + [9])
    }

    // MARK: - Matrix products

    /// One product's inputs: weights encoded by GGMLType, activations as floats, and both
    /// dequantized (weights) for the references.
    struct Problem {
        let type: GGMLType
        let rows: Int, cols: Int, batch: Int
        let weights: [UInt8]
        let weightValues: [Float]   // dequantized, rows x cols
        let activations: [Float]    // batch x cols, as given to ik_prepare_activations

        init(type: GGMLType, rows: Int, cols: Int, batch: Int, seed: UInt64, magnitude: Float = 1) {
            self.type = type
            self.rows = rows
            self.cols = cols
            self.batch = batch
            var rng = SplitMix(seed: seed)
            var w = (0..<rows * cols).map { _ in rng.float(in: -magnitude...magnitude) }
            var x = (0..<batch * cols).map { _ in rng.float(in: -magnitude...magnitude) }
            // All-zero blocks in the weights and in the activations, and an outlier per row.
            for r in 0..<rows where cols >= 64 && r % 3 == 1 {
                for i in 32..<64 { w[r * cols + i] = 0 }
            }
            for b in 0..<batch where b % 2 == 1 {
                for i in 0..<min(32, cols) { x[b * cols + i] = 0 }
            }
            for r in 0..<rows { w[r * cols + (r * 7) % cols] *= 8 }
            weights = w.withUnsafeBufferPointer { type.encode($0) }
            var values = [Float](repeating: 0, count: rows * cols)
            weights.withUnsafeBytes { type.decode($0, count: rows * cols, into: &values) }
            weightValues = values
            activations = x
        }

        var activationType: GGMLType { type == .f32 ? .f32 : type == .f16 ? .f16 : .q8_0 }

        /// The activations prepared by the current variant, and their dequantized values.
        func prepared() -> (bytes: [UInt8], values: [Float]) {
            var bytes = [UInt8](repeating: 0, count: ik_activation_row_bytes(Int32(type.rawValue), cols) * batch)
            ik_prepare_activations(Int32(type.rawValue), activations, batch, cols, &bytes)
            var values = [Float](repeating: 0, count: batch * cols)
            bytes.withUnsafeBytes { activationType.decode($0, count: batch * cols, into: &values) }
            return (bytes, values)
        }

        /// For row r and activation row b: sum w * x in double over the given activations,
        /// sum |w * x|, and the bound of preparing (tolerance 2 of the class comment).
        func reference(_ r: Int, _ b: Int, _ x: [Float]) -> (dot: Double, absDot: Double) {
            var dot = 0.0, absDot = 0.0
            for i in 0..<cols {
                let p = Double(weightValues[r * cols + i]) * Double(x[b * cols + i])
                dot += p
                absDot += abs(p)
            }
            return (dot, absDot)
        }

        func preparationBound(_ r: Int, _ b: Int) -> Double {
            switch type {
            case .f32: return 0
            case .f16:
                // Relative 2^-11 for normal halves, absolute 2^-25 below them.
                let weightSum = (0..<cols).reduce(0.0) { $0 + Double(abs(weightValues[r * cols + $1])) }
                return reference(r, b, activations).absDot / 2048 + weightSum * 0x1p-25
            case .q4_0, .q8_0:
                var bound = 0.0
                for block in 0..<cols / 32 {
                    let range = b * cols + block * 32..<b * cols + block * 32 + 32
                    let d = Double(activations[range].map { abs($0) }.max()!) / 127
                    let weightSum = (0..<32).reduce(0.0) { $0 + Double(abs(weightValues[r * cols + block * 32 + $1])) }
                    bound += d * (0.5 + 127.0 / 2048 + 1e-5) * weightSum
                }
                return bound
            }
        }

        /// Tolerance 1: float rounding over the terms accumulated.
        func floatBound(_ absDot: Double) -> Double {
            let terms = type.blockSize == 32 ? cols / 32 : cols
            return Double(terms + 4) * 0x1p-24 * absDot + 1e-30
        }
    }

    /// Runs the product in pieces whose row ranges start and end inside tiles, some storing and
    /// some accumulating onto a known y, and returns y (ldy = rows + 3; the gaps must stay).
    func product(_ p: Problem, prepared: [UInt8], ranges: [(Int, Int, Bool)]) -> (y: [Float], initial: [Float]) {
        let ldy = p.rows + 3
        let initial = (0..<p.batch * ldy).map { Float($0 % 11) - 5 }
        var y = initial
        p.weights.withUnsafeBytes { w in
            prepared.withUnsafeBytes { a in
                for (begin, end, accumulate) in ranges {
                    ik_matmul(Int32(p.type.rawValue), w.baseAddress, p.cols, a.baseAddress, p.batch,
                              &y, ldy, begin, end, accumulate ? 1 : 0)
                }
            }
        }
        return (y, initial)
    }

    /// Checks every product of a problem against both references, in every supported variant,
    /// and the variants against each other.
    func check(_ p: Problem, file: StaticString = #filePath, line: UInt = #line) {
        let rows = p.rows, ldy = rows + 3
        // Rows 1 ..< rows - 4 (starting and ending mid-tile) are stored; row 0 and the last 4
        // rows accumulate, in two ranges.
        let stored = 1..<rows - 4
        let ranges = [(1, rows - 4, false), (0, 1, true), (rows - 4, rows - 1, true), (rows - 1, rows, true)]
        var results: [(String, [Float])] = []
        let label = "\(p.type.name) \(p.rows)x\(p.cols) batch \(p.batch)"
        forEachVariant { _, name in
            let (bytes, values) = p.prepared()
            let (y, initial) = product(p, prepared: bytes, ranges: ranges)
            var failures = 0
            for b in 0..<p.batch {
                for r in 0..<rows {
                    let got = Double(y[b * ldy + r])
                    let base = stored.contains(r) ? 0 : Double(initial[b * ldy + r])
                    let exact = p.reference(r, b, values)
                    let tolerance = p.floatBound(exact.absDot + abs(base))
                    if abs(got - base - exact.dot) > tolerance, failures < 5 {
                        failures += 1
                        XCTFail("\(name) \(label) row \(r) act \(b): \(got - base) vs \(exact.dot) ± \(tolerance)", file: file, line: line)
                    }
                    let original = p.reference(r, b, p.activations)
                    let bound = p.preparationBound(r, b) + 2 * tolerance
                    if abs(got - base - original.dot) > bound, failures < 5 {
                        failures += 1
                        XCTFail("\(name) \(label) row \(r) act \(b): \(got - base) vs unprepared \(original.dot) ± \(bound)", file: file, line: line)
                    }
                }
                for r in rows..<ldy where y[b * ldy + r] != initial[b * ldy + r] {
                    XCTFail("\(name) \(label) wrote y[\(b * ldy + r)] outside the rows", file: file, line: line)
                }
            }
            results.append((name, y))
        }
        guard let portable = results.first?.1 else { return }
        let values = p.prepared().values
        for (name, y) in results.dropFirst() {
            for b in 0..<p.batch {
                for r in 0..<rows {
                    let tolerance = 2 * p.floatBound(p.reference(r, b, values).absDot + 5)
                    XCTAssertEqual(Double(y[b * ldy + r]), Double(portable[b * ldy + r]), accuracy: tolerance,
                                   "\(name) vs portable: \(label) row \(r) act \(b)", file: file, line: line)
                }
            }
        }
    }

    func testSmallShapesEveryBatch() {
        for type in Self.types {
            for cols in [32, 64] {
                for batch in [1, 2, 3, 4, 5, 17] {
                    check(Problem(type: type, rows: 13, cols: cols, batch: batch, seed: UInt64(cols * 100 + batch)))
                }
            }
        }
    }

    func testLongRows() {
        // 4096-ish columns: 128 blocks, 127 blocks, and for f32/f16 a count with a ragged tail.
        // Batches of 16 and 33 fill the quantized kernels' panels of 16 rows (33: two, and a row
        // left for the single-row tiles).
        for type in Self.types {
            let colsList = type.blockSize == 32 ? [4096, 4064] : [4096, 4099]
            for cols in colsList {
                for batch in [1, 4, 5, 16, 17, 33] {
                    check(Problem(type: type, rows: 14, cols: cols, batch: batch, seed: UInt64(cols + batch)))
                }
            }
        }
    }

    /// Q8_0 and Q4_0 products of a row are the same bits whatever else is in the batch (the
    /// engine's promise that a seed gives the same text alone or batched rests on it): every
    /// activation row alone against the same rows in batches that take every path (tiles of 2-4
    /// rows, panels of 5-16, a panel and a row left over), stored and accumulated, over row ranges
    /// split differently, and rows of 1, 24, 64 (one panel's blocks), 65 and 130 blocks.
    func testQuantizedRowsAreTheSameBitsAloneOrInAnyBatch() {
        let rows = 21, maxBatch = 33
        for type in [GGMLType.q8_0, .q4_0] {
            for cols in [32, 768, 2048, 2080, 4160] {
                let p = Problem(type: type, rows: rows, cols: cols, batch: maxBatch, seed: UInt64(cols))
                forEachVariant { _, name in
                    let (bytes, _) = p.prepared()
                    let rowBytes = ik_activation_row_bytes(Int32(type.rawValue), cols)
                    for accumulate in [false, true] {
                        let initial = (0..<maxBatch * rows).map { Float($0 % 13) * 0.25 - 1.5 }
                        var alone = initial
                        for b in 0..<maxBatch {
                            bytes.withUnsafeBytes { a in
                                ik_matmul(Int32(type.rawValue), p.weights, cols, a.baseAddress! + b * rowBytes, 1,
                                          &alone[b * rows], rows, 0, rows, accumulate ? 1 : 0)
                            }
                        }
                        for batch in [2, 3, 4, 5, 8, 16, 17, 33] {
                            var together = initial
                            for (begin, end) in [(0, 5), (5, 18), (18, rows)] {
                                ik_matmul(Int32(type.rawValue), p.weights, cols, bytes, batch, &together, rows, begin, end,
                                          accumulate ? 1 : 0)
                            }
                            let same = (0..<batch * rows).allSatisfy { together[$0].bitPattern == alone[$0].bitPattern }
                            XCTAssertTrue(same, "\(name) \(type.name) cols \(cols) batch \(batch) accumulate \(accumulate)")
                        }
                    }
                }
            }
        }
    }

    func testRaggedColumnsForFloatTypes() {
        for type in [GGMLType.f32, .f16] {
            for cols in [1, 7, 9, 15, 17, 31, 33, 100] {
                check(Problem(type: type, rows: 9, cols: cols, batch: 3, seed: UInt64(cols)))
            }
        }
    }

    func testLargeMagnitudes() {
        // Block scales near the top of fp16 for the weights (Q8_0 d = 1000 / 127 ... and f16
        // values up to 8000) and large activations.
        for type in Self.types {
            check(Problem(type: type, rows: 21, cols: 256, batch: 5, seed: 99, magnitude: 1000))
        }
    }

    func testAllZeroWeightsGiveZeros() {
        forEachVariant { _, name in
            for type in Self.types {
                let cols = 64, batch = 4
                let weights = [Float](repeating: 0, count: 6 * cols).withUnsafeBufferPointer { type.encode($0) }
                let x = (0..<batch * cols).map { Float($0 % 5) - 2 }
                var act = [UInt8](repeating: 0, count: ik_activation_row_bytes(Int32(type.rawValue), cols) * batch)
                ik_prepare_activations(Int32(type.rawValue), x, batch, cols, &act)
                var y = [Float](repeating: 3, count: batch * 6)
                ik_matmul(Int32(type.rawValue), weights, cols, act, batch, &y, 6, 0, 6, 0)
                XCTAssertEqual(y, [Float](repeating: 0, count: batch * 6), "\(name) \(type.name)")
            }
        }
    }

    func testEmptyRangesAndBatchesWriteNothing() {
        let p = Problem(type: .q8_0, rows: 4, cols: 32, batch: 1, seed: 1)
        let (bytes, _) = p.prepared()
        var y: [Float] = [7, 7, 7, 7]
        ik_matmul(Int32(IK_Q8_0), p.weights, 32, bytes, 1, &y, 4, 2, 2, 0)
        ik_matmul(Int32(IK_Q8_0), p.weights, 32, bytes, 0, &y, 4, 0, 4, 0)
        XCTAssertEqual(y, [7, 7, 7, 7])
        // Rows of no columns: products of 0, stored or added.
        ik_matmul(Int32(IK_F32), p.weights, 0, bytes, 1, &y, 4, 1, 3, 0)
        XCTAssertEqual(y, [7, 0, 0, 7])
        ik_matmul(Int32(IK_F16), p.weights, 0, bytes, 1, &y, 4, 0, 4, 1)
        XCTAssertEqual(y, [7, 0, 0, 7])
        // Block types need whole blocks: y is left alone.
        ik_matmul(Int32(IK_Q4_0), p.weights, 31, bytes, 1, &y, 4, 0, 4, 0)
        XCTAssertEqual(y, [7, 0, 0, 7])
    }

    func activationType(_ type: GGMLType) -> GGMLType { type == .f32 ? .f32 : type == .f16 ? .f16 : .q8_0 }
}

/// A small seeded generator (SplitMix64), so failures reproduce.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func float(in range: ClosedRange<Float>) -> Float {
        range.lowerBound + (range.upperBound - range.lowerBound) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func int(in range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }
}
