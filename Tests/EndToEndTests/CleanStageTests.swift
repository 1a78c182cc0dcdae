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
        let kept = try ws.documents("out/kept")
        XCTAssertEqual(kept.map { $0["text"] as! String }, [
            "Contact   the team at <EMAIL> or <IP>.\nLine two has  odd spacing.\n\nEnd.",
            "Caf\u{00E9} menus list prices, call <PHONE> to book a table.",
        ])
        XCTAssertEqual((kept[0]["meta"] as? [String: Any])?["license"] as? String, "CC-BY-4.0", "provenance survives cleaning")
        let rejects = try ws.documents("out/rejects")
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

    func testWebPresetConvertsHTMLIdentifiesLanguagesAndAppliesTheWebFilters() throws {
        let english = """
        The river rises in the mountains and flows east for two hundred miles before it reaches the sea.
        Towns grew along its banks because the water was clean and the land was good for farming.
        Fishing is popular in the summer months, and boats can be rented in most of the towns.
        In the winter the river freezes, and people walk across it to visit their neighbours.
        The old bridge at the centre of the main town was built by hand more than three hundred years ago.
        """
        let page = "<html><head><script>track()</script></head><body><nav>Home | About | Contact</nav>"
            + english.split(separator: "\n").map { "<p>\($0)</p>" }.joined() + "<footer>All rights reserved</footer></body></html>"
        try ws.write("src/river.html", page)
        try ws.write("src/fluss.html", "<p>Der Fluss entspringt in den Bergen und fliesst zweihundert Meilen nach Osten, bevor er das Meer erreicht. "
            + "Entlang seiner Ufer wuchsen Städte, weil das Wasser sauber und das Land gut für die Landwirtschaft war.</p>")
        try ws.write("src/code.txt", english + "\nIn code you would write a dictionary such as {1: 2} to map the towns.")
        try ws.write("p.yaml", """
        version: 1
        name: web-clean
        stages:
          objective:
            uses: objective
            with: {task: text-generation, languages: [en]}
          pages:
            uses: collect
            with: {sources: [{path: src}]}
          clean:
            uses: clean
            inputs: {documents: pages.documents, languages: objective.languages}
            with: {preset: web}
            publish: {documents: out/kept/, rejects: out/rejects/, stats: out/stats/}

        """)
        XCTAssertEqual(try ws.runStages("p.yaml")["clean"], "ran")
        let kept = try ws.documents("out/kept")
        XCTAssertEqual(kept.count, 1)
        XCTAssertEqual(kept.first?["text"] as? String, english,
                       "HTML became paragraphs without the script, navigation and footer (C4 keeps the lines, not the blank ones)")
        XCTAssertEqual((kept.first?["meta"] as? [String: Any])?["language"] as? String, "en")
        let rejects = try ws.documents("out/rejects").map { ($0["meta"] as! [String: Any])["reject"] as! [String: String] }
        XCTAssertEqual(rejects.map { $0["filter"]! }.sorted(), ["c4", "language"])
        XCTAssertTrue(rejects.contains { $0["reason"] == "curly_bracket" })
        XCTAssertTrue(rejects.contains { $0["reason"]!.hasPrefix("language de") }, "\(rejects)")
        let stats = try JSONSerialization.jsonObject(with: Data(ws.read("out/stats/metrics.json").utf8)) as! [String: Double]
        XCTAssertEqual(stats["clean.html.converted"], 2)
        XCTAssertEqual(stats["clean.language.documents_in"], 3)
        XCTAssertEqual(stats["clean.c4.documents_in"], 2)
        XCTAssertEqual(stats["clean.fineweb.documents_in"], 1)
        XCTAssertNotNil(stats["clean.gopher_quality.bytes_in"])
        XCTAssertNil(stats["clean.mb_per_second"], "rates are run metrics, not part of the artifact")

        // One filter switched off by itself: the page with code goes through.
        try ws.write("p.yaml", try ws.read("p.yaml").replacingOccurrences(of: "{preset: web}", with: "{preset: web, skip: [c4]}"))
        XCTAssertEqual(try ws.runStages("p.yaml")["clean"], "ran")
        XCTAssertEqual(try ws.documents("out/kept").count, 2)
    }
}
