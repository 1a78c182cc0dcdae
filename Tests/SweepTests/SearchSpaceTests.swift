import PipeKit
@testable import Sweep
import XCTest

/// `sweep.space` is read into dimensions in path order, and every mistake names its field.
final class SearchSpaceTests: XCTestCase {
    func dimension(_ fields: [String: JSONValue]) -> JSONValue { .object(fields) }

    func problems(_ space: JSONValue) -> [String] {
        do {
            _ = try SearchSpace(parsing: space, path: "sweep.space")
            return []
        } catch {
            return (error as? SweepConfigError)?.problems ?? ["\(error)"]
        }
    }

    func testReadsEveryKindInPathOrder() throws {
        let space = try SearchSpace(parsing: [
            "train.lr": ["kind": "log_uniform", "low": 1e-4, "high": 1e-2],
            "dropout": ["kind": "uniform", "low": 0, "high": 0.5],
            "train.width": ["kind": "int", "low": 64, "high": 512, "step": 64],
            "layers": ["kind": "int", "low": 1, "high": 16, "log": true],
            "optimizer": ["kind": "choice", "values": ["adamw", "sgd", 3, 1.5, true, nil]],
            "vocab": ["kind": "grid", "values": [4096, 8192]],
        ], path: "sweep.space")
        XCTAssertEqual(space.dimensions.map(\.path), ["dropout", "layers", "optimizer", "train.lr", "train.width", "vocab"])
        XCTAssertEqual(space["train.lr"]?.kind, .logUniform(low: 1e-4, high: 1e-2))
        XCTAssertEqual(space["dropout"]?.kind, .uniform(low: 0, high: 0.5))
        XCTAssertEqual(space["train.width"]?.kind, .int(.init(low: 64, high: 512, step: 64)))
        XCTAssertEqual(space["layers"]?.kind, .int(.init(low: 1, high: 16, log: true)))
        XCTAssertEqual(space["optimizer"]?.categories?.count, 6)
        XCTAssertEqual(space["vocab"]?.kind, .grid([4096, 8192]))
    }

    func testBadRangesNameTheirField() {
        XCTAssertEqual(problems(["lr": ["kind": "log_uniform", "low": 0, "high": 1]]),
                       ["sweep.space.lr: log_uniform needs 0 < low < high, found low 0.0, high 1.0"])
        XCTAssertEqual(problems(["x": ["kind": "uniform", "low": 2, "high": 1]]),
                       ["sweep.space.x: uniform needs low < high, found low 2.0, high 1.0"])
        XCTAssertEqual(problems(["x": ["kind": "uniform", "low": .double(.infinity), "high": 1]]),
                       ["sweep.space.x.low: expected a finite number, found null"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 1, "high": 10, "step": 4]]),
                       ["sweep.space.n: int step 4 does not divide high - low = 9"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 0, "high": 8, "log": true]]),
                       ["sweep.space.n: int with log: true needs low >= 1, found 0"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 1, "high": 8, "log": true, "step": 7]]),
                       ["sweep.space.n: int with log: true takes no step other than 1, found 7"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 1, "high": .int(1 << 60)]]),
                       ["sweep.space.n: int bounds must lie within ±2^53, found low 1, high 1152921504606846976"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 1.5, "high": 3]]),
                       ["sweep.space.n.low: expected an integer, found 1.5"])
        XCTAssertEqual(problems(["n": ["kind": "int", "low": 1, "high": 3, "step": 0]]),
                       ["sweep.space.n: int step must be at least 1, found 0"])
    }

    func testBadListsAndFieldsNameTheirField() {
        XCTAssertEqual(problems(["o": ["kind": "choice", "values": []]]), ["sweep.space.o.values: choice needs at least one value"])
        XCTAssertEqual(problems(["o": ["kind": "grid", "values": [1, [2]]]]), ["sweep.space.o.values[1]: expected a scalar, found list"])
        XCTAssertEqual(problems(["o": ["kind": "grid", "values": [1, "a", 1.0]]]),
                       ["sweep.space.o.values[2]: repeats sweep.space.o.values[0] (1.0)"])
        XCTAssertEqual(problems(["o": ["kind": "choice"]]), ["sweep.space.o.values: missing (a non-empty list)"])
        XCTAssertEqual(problems(["o": ["kind": "normal"]]),
                       ["sweep.space.o.kind: unknown kind 'normal' (known: uniform, log_uniform, int, choice, grid)"])
        XCTAssertEqual(problems(["o": ["low": 1]]), ["sweep.space.o.kind: missing (uniform, log_uniform, int, choice, grid)"])
        XCTAssertEqual(problems(["x": ["kind": "uniform", "low": 0, "high": 1, "hihg": 2]]),
                       ["sweep.space.x.hihg: unknown field (known: high, kind, low)"])
        XCTAssertEqual(problems(["x": 3]), ["sweep.space.x: expected a mapping, found int"])
        XCTAssertEqual(problems(["a..b": ["kind": "uniform", "low": 0, "high": 1]]),
                       ["sweep.space.a..b: not a params path (names of letters, digits, _ and -, joined by dots)"])
        XCTAssertEqual(problems([:]), ["sweep.space: needs at least one dimension"])
        XCTAssertEqual(problems([1, 2]), ["sweep.space: expected a mapping from params paths to dimensions, found list"])
    }

    func testEveryBadDimensionIsReportedAtOnce() {
        XCTAssertEqual(problems([
            "a": ["kind": "uniform", "low": 1, "high": 0],
            "b": ["kind": "uniform", "low": 0, "high": 1],
            "c": ["kind": "choice", "values": []],
        ]), ["sweep.space.a: uniform needs low < high, found low 1.0, high 0.0", "sweep.space.c.values: choice needs at least one value"])
    }
}
