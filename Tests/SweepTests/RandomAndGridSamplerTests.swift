import PipeKit
@testable import Sweep
import XCTest

/// Random draws stay in range with the right types and follow the seed; a grid enumerates
/// exactly the product, in the documented order.
final class RandomAndGridSamplerTests: XCTestCase {
    static let mixed: JSONValue = [
        "lr": ["kind": "log_uniform", "low": 1e-5, "high": 1e-1],
        "dropout": ["kind": "uniform", "low": -1, "high": 1],
        "width": ["kind": "int", "low": 16, "high": 256, "step": 16],
        "layers": ["kind": "int", "low": 1, "high": 100, "log": true],
        "optimizer": ["kind": "choice", "values": ["adamw", 2, nil]],
        "vocab": ["kind": "grid", "values": [4096, 8192]],
    ]

    /// Fails unless every param is a value its dimension can take, of the dimension's type.
    static func assertInSpace(_ params: [String: JSONValue], _ space: SearchSpace, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(Set(params.keys), Set(space.dimensions.map(\.path)), file: file, line: line)
        for dimension in space.dimensions {
            let value = params[dimension.path]!
            switch dimension.kind {
            case .uniform(let low, let high), .logUniform(let low, let high):
                guard case .double(let x) = value else { return XCTFail("\(dimension.path): \(value) is not a float", file: file, line: line) }
                XCTAssert(x >= low && x <= high, "\(dimension.path): \(x)", file: file, line: line)
            case .int(let range):
                guard case .int(let n) = value else { return XCTFail("\(dimension.path): \(value) is not an int", file: file, line: line) }
                XCTAssert(n >= range.low && n <= range.high && (n - range.low) % range.step == 0, "\(dimension.path): \(n)", file: file, line: line)
            case .choice(let values), .grid(let values):
                XCTAssert(values.contains(value), "\(dimension.path): \(value)", file: file, line: line)
            }
        }
    }

    func testRandomDrawsStayInRangeWithTheirTypes() throws {
        let space = try SearchSpace(parsing: Self.mixed, path: "sweep.space")
        let sampler = RandomSampler(space: space, seed: 7)
        var seen: [String: Set<JSONValue>] = [:]
        for number in 0..<500 {
            let params = try XCTUnwrap(sampler.suggest(number: number, history: []))
            Self.assertInSpace(params, space)
            for (path, value) in params { seen[path, default: []].insert(value) }
        }
        // Every value of the small dimensions turns up, including the int range's ends.
        XCTAssertEqual(seen["optimizer"]?.count, 3)
        XCTAssertEqual(seen["vocab"]?.count, 2)
        XCTAssertEqual(seen["width"]?.count, 16)
        XCTAssert(seen["layers"]!.contains(1) && seen["layers"]!.contains(100))
    }

    func testRandomLogDimensionsAreEvenInLogSpace() throws {
        let space = try SearchSpace(parsing: ["lr": ["kind": "log_uniform", "low": 1e-6, "high": 1]], path: "sweep.space")
        let sampler = RandomSampler(space: space, seed: 1)
        let below1e3 = (0..<2000).filter { sampler.suggest(number: $0, history: [])!["lr"]!.doubleValue! < 1e-3 }.count
        XCTAssertEqual(Double(below1e3) / 2000, 0.5, accuracy: 0.05)
    }

    func testTheSameSeedGivesTheSameSequenceAndAnotherSeedAnother() throws {
        let space = try SearchSpace(parsing: Self.mixed, path: "sweep.space")
        func sequence(_ seed: UInt64) -> [[String: JSONValue]] {
            (0..<20).map { RandomSampler(space: space, seed: seed).suggest(number: $0, history: [])! }
        }
        XCTAssertEqual(sequence(3), sequence(3))
        XCTAssertNotEqual(sequence(3), sequence(4))
        // A trial's draw does not depend on the history or on which trials were drawn before.
        let history = [TrialRecord(number: 0, params: sequence(3)[0], state: .complete, value: 1)]
        XCTAssertEqual(RandomSampler(space: space, seed: 3).suggest(number: 5, history: history), sequence(3)[5])
    }

    func testGridEnumeratesExactlyTheProductInOdometerOrder() throws {
        let space = try SearchSpace(parsing: [
            "b": ["kind": "grid", "values": [1, 2, 3]],
            "a": ["kind": "choice", "values": ["x", "y"]],
            "c": ["kind": "grid", "values": [true, false]],
        ], path: "sweep.space")
        let grid = try GridSampler(space: space)
        XCTAssertEqual(grid.plannedCount, 12)
        let all = (0..<grid.plannedCount).map { grid.suggest(number: $0, history: [])! }
        XCTAssertEqual(Set(all).count, 12)
        XCTAssertEqual(all[0], ["a": "x", "b": 1, "c": true])
        XCTAssertEqual(all[1], ["a": "x", "b": 1, "c": false])
        XCTAssertEqual(all[2], ["a": "x", "b": 2, "c": true])
        XCTAssertEqual(all[11], ["a": "y", "b": 3, "c": false])
        XCTAssertNil(grid.suggest(number: 12, history: []))
    }

    func testAGridCannotEnumerateNumericDimensions() throws {
        let space = try SearchSpace(parsing: [
            "lr": ["kind": "log_uniform", "low": 1e-4, "high": 1e-2],
            "width": ["kind": "int", "low": 1, "high": 4],
            "vocab": ["kind": "grid", "values": [1, 2]],
        ], path: "sweep.space")
        XCTAssertThrowsError(try GridSampler(space: space)) {
            XCTAssertEqual("\($0)", "sweep.sampler: a grid sweep enumerates only grid and choice dimensions; lr is log_uniform, width is int")
        }
    }
}
