// Test functions for comparing samplers, each with its search space in the manifest's
// `sweep.space` form: two standard ones, and a made-up training-like one over every kind of
// dimension but grid. bench/sweep_objectives.py holds the same functions for the Python side
// (Optuna, a plugin stage); bench/sweep_compare.py checks that both give the same values.
//
// References: Surjanovic & Bingham, "Virtual Library of Simulation Experiments"
// (https://www.sfu.ca/~ssurjano/branin.html, /hart6.html); Dixon & Szegő (1978).
import Foundation
import PipeKit

/// A function to minimise over a search space, with its known minimum.
public struct Objective: Sendable {
    public let name: String
    /// The space in `sweep.space` form: params path to dimension.
    public let space: JSONValue
    public let minimum: Double
    public let evaluate: @Sendable ([String: JSONValue]) -> Double

    public static let all = [branin, hartmann6, hyperparams]

    public static func named(_ name: String) -> Objective? { all.first { $0.name == name } }

    /// Branin-Hoo on [-5, 10] x [0, 15]: three global minima of 0.397887.
    public static let branin = Objective(
        name: "branin",
        space: .object(["x1": uniform(-5, 10), "x2": uniform(0, 15)]),
        minimum: 0.397887357729738
    ) { params in
        let x1 = params["x1"]!.doubleValue!, x2 = params["x2"]!.doubleValue!
        let b = 5.1 / (4 * Double.pi * Double.pi), c = 5 / Double.pi, t = 1 / (8 * Double.pi)
        let u = x2 - b * x1 * x1 + c * x1 - 6
        return u * u + 10 * (1 - t) * cos(x1) + 10
    }

    /// Hartmann 6-D on [0, 1]^6: one global minimum of -3.32237, and local ones.
    public static let hartmann6 = Objective(
        name: "hartmann6",
        space: .object(Dictionary(uniqueKeysWithValues: (1...6).map { ("x\($0)", uniform(0, 1)) })),
        minimum: -3.322368011415515
    ) { params in
        let x = (1...6).map { params["x\($0)"]!.doubleValue! }
        var sum = 0.0
        for i in 0..<4 {
            var exponent = 0.0
            for j in 0..<6 { exponent += hartmannA[i][j] * (x[j] - hartmannP[i][j]) * (x[j] - hartmannP[i][j]) }
            sum += hartmannAlpha[i] * exp(-exponent)
        }
        return -sum
    }

    /// A made-up training-like loss over a learning rate (log), a width (log int), a depth (int),
    /// warm-up steps (int with a step) and an optimizer (choice): a bowl in the log scales plus a
    /// penalty per optimizer, least at lr 10^-2.7, width 158, 5 layers, 300 warm-up steps, adamw.
    public static let hyperparams = Objective(
        name: "hyperparams",
        space: .object([
            "lr": .object(["kind": .string("log_uniform"), "low": .double(1e-5), "high": .double(1)]),
            "width": .object(["kind": .string("int"), "low": .int(8), "high": .int(512), "log": .bool(true)]),
            "layers": .object(["kind": .string("int"), "low": .int(1), "high": .int(12)]),
            "warmup": .object(["kind": .string("int"), "low": .int(0), "high": .int(1000), "step": .int(50)]),
            "optimizer": .object(["kind": .string("choice"), "values": .array(["adamw", "sgd", "lion"].map { .string($0) })]),
        ]),
        minimum: 0.5 * pow(log2(158) - 7.3, 2)
    ) { params in
        let lr = params["lr"]!.doubleValue!, width = params["width"]!.doubleValue!
        let layers = params["layers"]!.doubleValue!, warmup = params["warmup"]!.doubleValue!
        let penalty = ["adamw": 0, "sgd": 0.8, "lion": 0.3][params["optimizer"]!.stringValue!]!
        let a = log10(lr) + 2.7, b = log2(width) - 7.3, c = layers - 5, d = (warmup - 300) / 400
        return a * a + 0.5 * b * b + 0.1 * c * c + d * d + penalty
    }

    private static let hartmannAlpha = [1.0, 1.2, 3.0, 3.2]
    private static let hartmannA: [[Double]] = [
        [10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14], [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14],
    ]
    private static let hartmannP: [[Double]] = [
        [1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381],
    ].map { $0.map { $0 * 1e-4 } }

    private static func uniform(_ low: Double, _ high: Double) -> JSONValue {
        .object(["kind": .string("uniform"), "low": .double(low), "high": .double(high)])
    }
}
