import Foundation
import XCTest

/// The clean stage through the built binary: repaired text, rejects with reasons, counts.
final class CleanStageTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws?.remove() }

    func testCleanRepairsRedactsAndKeepsRejectsWithReasons() throws {
        try ws.write("src/a.txt", "Contact   the team at team@example.org or 10.1.2.3.\r\nLine two has \u{00A0}odd\u{0007} spacing.   \n\n\n\nEnd.")
        try ws.write("src/b.txt", "too short")
        try ws.write("src/c.txt", "Cafe\u{0301} menus list prices, call (415) 555-0132 to book a table.")
        try ws.write("p.yaml", """
        version: 1
        name: clean-test
        stages:
          text:
            uses: collect
            with: {sources: [{path: src, include: ["*.txt"], name: notes, license: CC-BY-4.0}]}
          clean:
            uses: clean
            inputs: {documents: text.documents}
            publish: {documents: out/kept/, rejects: out/rejects/, stats: out/stats/}

        """)
        XCTAssertEqual(try ws.runStages("p.yaml")["clean"], "ran")
        func documents(_ folder: String) throws -> [[String: Any]] {
            try ws.read("\(folder)/part-00000.jsonl").split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
        let kept = try documents("out/kept")
        XCTAssertEqual(kept.map { $0["text"] as! String }, [
            "Contact   the team at <EMAIL> or <IP>.\nLine two has  odd spacing.\n\nEnd.",
            "Caf\u{00E9} menus list prices, call <PHONE> to book a table.",
        ])
        XCTAssertEqual((kept[0]["meta"] as? [String: Any])?["license"] as? String, "CC-BY-4.0", "provenance survives cleaning")
        let rejects = try documents("out/rejects")
        XCTAssertEqual(rejects.count, 1)
        let reject = (rejects[0]["meta"] as! [String: Any])["reject"] as! [String: String]
        XCTAssertEqual(reject, ["filter": "length", "reason": "2 words < 5"])
        let stats = try JSONSerialization.jsonObject(with: Data(ws.read("out/stats/metrics.json").utf8)) as! [String: Double]
        XCTAssertEqual(stats["documents.in"], 3)
        XCTAssertEqual(stats["documents.out"], 2)
        XCTAssertEqual(stats["clean.length.rejected"], 1)
        XCTAssertEqual(stats["clean.pii.emails"], 1)
        XCTAssertEqual(stats["clean.pii.ips"], 1)
        XCTAssertEqual(stats["clean.pii.phones"], 1)
    }
}
