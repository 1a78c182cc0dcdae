import PipeKit
import XCTest

final class JSONValueTests: XCTestCase {
    func testCanonicalJSONSortsKeysAndIsCompact() {
        let value: JSONValue = .object(["b": .int(1), "a": .array([.bool(true), .null, .string("x\"y\n")])])
        XCTAssertEqual(value.canonicalJSON, #"{"a":[true,null,"x\"y\n"],"b":1}"#)
    }

    func testDoublesUseShortestRoundTripAndKeepAFractionMark() {
        XCTAssertEqual(JSONValue.double(0.003).canonicalJSON, "0.003")
        XCTAssertEqual(JSONValue.double(3).canonicalJSON, "3.0")
        XCTAssertEqual(JSONValue.double(1e-5).canonicalJSON, "1e-05")
        XCTAssertNotEqual(JSONValue.double(3).canonicalJSON, JSONValue.int(3).canonicalJSON)
    }

    func testControlCharactersAreEscaped() {
        XCTAssertEqual(JSONValue.string("\u{01}").canonicalJSON, #""\u0001""#)
    }

    func testParseRoundTripsThroughCanonicalForm() throws {
        let text = #"{"x":[1,2.5,"s",false,null],"y":{"z":-7}}"#
        XCTAssertEqual(try JSONValue.parse(Data(text.utf8)).canonicalJSON, text)
    }

    func testParamTypeParsesTheStageYamlSpelling() {
        XCTAssertEqual(ParamType(parsing: "list[int]"), .list(.int))
        XCTAssertEqual(ParamType(parsing: "map[list[string]]"), .map(.list(.string)))
        XCTAssertEqual(ParamType(parsing: "fast|slow"), .choice(["fast", "slow"]))
        XCTAssertNil(ParamType(parsing: "list[nope]"))
        XCTAssertNil(ParamType(parsing: "integerish"))
    }

    func testArtifactKindAnyAcceptsEveryKind() {
        XCTAssertTrue(ArtifactKind.any.accepts(.tokens))
        XCTAssertFalse(ArtifactKind.documents.accepts(.tokens))
    }
}
