// Standard test functions for comparing samplers, each with its search space in the manifest's
// `sweep.space` form. bench/sweep_objectives.py holds the same functions for the Python side
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

    public static let all = [branin, hartmann6]

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
