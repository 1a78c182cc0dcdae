import PipeKit
import XCTest

/// `@Param` declarations: the specs read off a default instance, and `ParamDecoder`.
final class ParametersTests: XCTestCase {
    enum Shape: String, ParamChoice { case round, square = "square-ish" }

    struct Inner: Parameters {
        @Param("a width", range: .positive) var width = 8
        @Param("a name") var name: String? = nil
    }

    struct Shared: Parameters {
        @Param("a rate", range: .halfOpen(0, 1)) var rate = 0.5
    }

    struct Outer: Parameters {
        @Param("what to read") var paths: [String]
        @Param("a shape") var shape = Shape.round
        @Param("nested") var inner = Inner()
        @Param("a list of nested") var items: [Inner] = []
        @Param("free-form keys") var weights: [String: Double] = ["a": 1]
        @ParamGroup var shared: Shared
        init() {}
    }

    func testSpecsComeFromTheDeclarationsInOrder() {
        let specs = Outer.parameters
        XCTAssertEqual(specs.map(\.name), ["paths", "shape", "inner", "items", "weights", "rate"])
        XCTAssertNil(specs[0].defaultValue, "no initial value: required")
        XCTAssertEqual(specs[0].type, .list(.string))
        XCTAssertEqual(specs[1].type, .choice(["round", "square-ish"]))
        XCTAssertEqual(specs[1].defaultValue, .string("round"))
        XCTAssertEqual(specs[2].defaultValue, .object(["width": .int(8), "name": .null]))
        XCTAssertEqual(specs[2].type, .object(Inner.parameters))
        XCTAssertEqual(Inner.parameters[0].range, .positive)
        XCTAssertEqual(Inner.parameters[1].defaultValue, .null, "an optional defaults to null")
        XCTAssertEqual(specs[3].type, .list(.object(Inner.parameters)))
        XCTAssertEqual(specs[4].type, .map(.float))
        XCTAssertEqual(specs[4].defaultValue, .object(["a": .double(1)]))
        XCTAssertEqual(specs[5].range, .halfOpen(0, 1), "a group's fields sit at the level that declares it")
    }

    func testDecodesCheckedValuesIncludingGroupsAtTheSameLevel() throws {
        let values: JSONValue = .object([
            "paths": .array([.string("a"), .string("b")]), "shape": .string("square-ish"),
            "inner": .object(["width": .int(3), "name": .string("x")]),
            "items": .array([.object(["width": .int(5), "name": .null])]),
            "weights": .object(["a_b": .int(2)]), "rate": .double(0.25),
        ])
        let outer = try ParamDecoder().decode(Outer.self, from: values)
        XCTAssertEqual(outer.paths, ["a", "b"])
        XCTAssertEqual(outer.shape, .square)
        XCTAssertEqual(outer.inner.width, 3)
        XCTAssertEqual(outer.inner.name, "x")
        XCTAssertEqual(outer.items.map(\.width), [5])
        XCTAssertNil(outer.items[0].name)
        XCTAssertEqual(outer.weights, ["a_b": 2], "map keys are kept as written; ints read as floats")
        XCTAssertEqual(outer.shared.rate, 0.25)
    }

    func testADefaultInstanceRoundTripsThroughItsJSON() throws {
        var defaults = Outer()
        defaults.paths = ["p"]
        let decoded = try ParamDecoder().decode(Outer.self, from: defaults.paramJSON)
        XCTAssertEqual(decoded.paramJSON, defaults.paramJSON)
    }

    func testErrorsNameTheParameterByItsPath() {
        let valid: [String: JSONValue] = [
            "paths": .array([]), "shape": .string("round"), "inner": .object(["width": .int(1)]), "items": .array([]),
            "weights": .object([:]), "rate": .double(0),
        ]
        func message(_ changes: [String: JSONValue], removing removed: String? = nil) -> String {
            var values = valid.merging(changes) { $1 }
            if let removed { values[removed] = nil }
            do {
                _ = try ParamDecoder().decode(Outer.self, from: .object(values))
                return "decoded"
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message([:]), "decoded", "a missing optional (inner.name) reads as nil")
        XCTAssertEqual(message([:], removing: "paths"), "parameter 'paths': is required")
        XCTAssertEqual(message(["paths": .array([.int(1)])]), "parameter 'paths.0': must be a string, not int")
        XCTAssertEqual(message(["items": .array([.object(["width": .string("w")])])]), "parameter 'items.0.width': must be an int, not string")
        XCTAssertEqual(message(["shape": .string("oval")]), "parameter 'shape': must be one of round, square-ish, not 'oval'")
    }

    func testRangesDescribeThemselvesForMessagesAndHelp() {
        XCTAssertEqual(ParamRange.positive.requirement, "must be positive")
        XCTAssertEqual(ParamRange.nonNegative.requirement, "must not be negative")
        XCTAssertEqual(ParamRange.atLeast(1024).requirement, "must be at least 1024")
        XCTAssertEqual(ParamRange.halfOpen(0, 1).requirement, "must be in [0, 1)")
        XCTAssertEqual(ParamRange.leftOpen(0, 1).description, "(0, 1]")
        XCTAssertEqual(ParamRange.positive.description, "> 0")
        XCTAssertTrue(ParamRange.leftOpen(0, 1).contains(1))
        XCTAssertFalse(ParamRange.leftOpen(0, 1).contains(0))
        XCTAssertFalse(ParamRange.halfOpen(0, 1).contains(1))
    }
}
