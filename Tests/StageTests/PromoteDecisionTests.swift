import Foundation
import PipeKit
@testable import PromoteStage
import XCTest

/// What `promote` decides from its decision input: evaluate's or monitor's gates, or a verdict.
final class PromoteDecisionTests: XCTestCase {
    /// An artifact of in-memory files.
    struct Files: ArtifactReading {
        var contents: [String: String]
        var id: String { "test" }
        var files: [ArtifactFile] { contents.keys.sorted().map { ArtifactFile(path: $0, size: Int64(contents[$0]!.utf8.count)) } }
        func readChunks(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            guard let text = contents[path] else { throw StageError("no file \(path)") }
            try Data(text.utf8).withUnsafeBytes(body)
        }
        func materialize(into folder: URL) throws -> URL { folder }
    }

    func testEveryGateMetPromotesAndOneUnmetRefuses() throws {
        let met = #"{"metric": "test.bits_per_byte", "min": null, "max": 2.0, "value": 1.5, "met": true}"#
        let unmet = #"{"metric": "task.qa.accuracy", "min": 0.8, "max": null, "value": 0.5, "met": false}"#
        let (promote, reasons) = try PromoteStage.decide(Files(contents: ["gates.json": #"{"gate": "warn", "targets": [\#(met)]}"#]))
        XCTAssertTrue(promote)
        XCTAssertEqual(reasons, ["test.bits_per_byte = 1.5 (max 2.0): met"])
        let (refused, why) = try PromoteStage.decide(Files(contents: ["gates.json": #"{"gate": "warn", "targets": [\#(met), \#(unmet)]}"#]))
        XCTAssertFalse(refused)
        XCTAssertEqual(why.last, "task.qa.accuracy = 0.5 (min 0.8): unmet")
    }

    func testAVerdictDecidesAndAnythingElseIsAnError() throws {
        let (promote, reasons) = try PromoteStage.decide(Files(contents: ["decision.json": #"{"promote": false, "reasons": ["worse on old data"]}"#]))
        XCTAssertFalse(promote)
        XCTAssertEqual(reasons, ["worse on old data"])
        XCTAssertTrue(try PromoteStage.decide(nil).0, "no decision input: always")
        XCTAssertThrowsError(try PromoteStage.decide(Files(contents: ["metrics.json": "{}"])))
        XCTAssertThrowsError(try PromoteStage.decide(Files(contents: ["decision.json": #"{"promote": "yes"}"#])))
        XCTAssertThrowsError(try PromoteStage.decide(Files(contents: ["gates.json": #"{"targets": 3}"#])))
    }
}
