import Foundation
import XCTest

/// minhash-dedup on planted duplicates of real text (tests-python/make_dedup_corpus.py).
final class DedupTests: XCTestCase {
    func testPlantedDuplicatesAreFoundWithoutFalseMerges() throws {
        guard FileManager.default.isExecutableFile(atPath: TokenizerTests.python) else {
            return XCTFail("no Python at \(TokenizerTests.python): run scripts/test, which creates .venv/")
        }
        let ws = try Workspace()
        defer { ws.remove() }
        let scripts = Workspace.repository.appendingPathComponent("tests-python").path
        let corpus = try Workspace.execute(TokenizerTests.python, [scripts + "/make_dedup_corpus.py", "src/docs.jsonl", "truth.json",
                                                                    "--originals", "2000", "--per-kind", "60"], in: ws.root)
        XCTAssertEqual(corpus.status, 0, corpus.output)
        try ws.write("d.yaml", """
        version: 1
        name: dedup
        stages:
          collect:
            uses: collect
            with: {sources: [{path: src, id_field: id}]}
          dedup:
            uses: minhash-dedup
            inputs: {documents: collect.documents}
            publish: {documents: out/kept/, clusters: out/clusters/}

        """)
        let run = try ws.run(["run", "d.yaml", "--json"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let kept = try ws.documents("out/kept").map { $0["id"] as! String }
        try ws.write("kept.txt", kept.joined(separator: "\n"))
        let total = try ws.read("src/docs.jsonl").split(separator: "\n").count
        let score = try Workspace.execute(TokenizerTests.python, [scripts + "/dedup_score.py", "truth.json", "kept.txt",
                                                                   "--removed", "\(total - kept.count)",
                                                                   "exact=1.0", "noise=0.95", "edit1=0.9", "edit2=0.8", "swap=0.7", "truncate=0.85"], in: ws.root)
        XCTAssertEqual(score.status, 0, score.output)

        // Every removed document is in a cluster, named with its kind.
        let clusters = try ws.jsonLines("out/clusters/clusters.jsonl")
        let removed = clusters.flatMap { ($0["removed"] as! [[String: Any]]).map { $0["id"] as! String } }
        XCTAssertEqual(removed.count, total - kept.count)
        XCTAssertTrue(Set(removed).isDisjoint(with: kept))
        XCTAssertTrue(clusters.contains { ($0["removed"] as! [[String: Any]]).contains { $0["kind"] as? String == "exact" } })

        // Candidates are confirmed by exact Jaccard (the default): some LSH candidates are chance collisions.
        let metrics = (try ws.run(["show", "d.yaml", "dedup", "--json"]).json as! [String: Any])["metrics"] as! [String: Double]
        XCTAssertGreaterThan(metrics["dedup.confirmed_pairs"]!, 0)
        XCTAssertLessThanOrEqual(metrics["dedup.confirmed_pairs"]!, metrics["dedup.candidate_pairs"]!)

        // Neither the thread count nor a memory budget that forces one pass per few candidates changes the result.
        let keptLines = try ws.read("out/kept/part-00000.jsonl")
        try ws.write("d.yaml", try ws.read("d.yaml").replacingOccurrences(of: "uses: minhash-dedup", with: "uses: minhash-dedup\n    with: {verify_memory_mb: 1}"))
        let again = try ws.run(["run", "d.yaml", "--threads", "1", "--cache", "cache-1", "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(try ws.read("out/kept/part-00000.jsonl"), keptLines)
        let log = try ws.run(["show", "d.yaml", "dedup", "--log", "--cache", "cache-1"]).stdout
        let passes = log.firstMatch(of: /in (\d+) pass/).map { Int($0.1)! } ?? 0
        XCTAssertGreaterThan(passes, 1, log)
    }
}
