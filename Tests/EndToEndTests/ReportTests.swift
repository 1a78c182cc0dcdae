import Foundation
import XCTest

/// `pipe report` rendered in a real headless browser (Debian's chromium, which scripts/test installs).
final class ReportTests: XCTestCase {
    var ws: Workspace!

    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
        try ws.write("p.yaml", """
        version: 1
        name: report-test
        stages:
          objective:
            uses: objective
            with: {targets: {test.perplexity: {max: 100000}}, gate: warn}
          text:
            uses: collect
            with: {sources: [{path: corpus, include: ["**/*.md"], name: docs, license: MIT}]}
          dedup:
            uses: minhash-dedup
            inputs: {documents: text.documents}
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: dedup.documents}
            with: {vocab_size: 300, split_by: tokens, splits: {train: 0.8, val: 0.1, test: 0.1}}
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 1, heads: 2, dim: 32, context: 32}, batch: 8, steps: 60, lr: 3.0e-3, warmup: 5, eval_every: 20, eval_tokens: 1024, log_every: 5}
          evaluate:
            uses: evaluate
            inputs: {model: train.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer, targets: objective.targets}
            with: {samples: {prompts: ["The "], max_new_tokens: 8}}
          q8:
            uses: quantize
            inputs: {model: train.model}
          evaluate_q8:
            uses: evaluate
            inputs: {model: q8.model, tokens: tokenize.tokens, tokenizer: tokenize.tokenizer}
          judge:
            uses: ./stages/judge
            inputs: {model: q8.model}

        """)
        // A plugin that evaluates a model: the report shows it by its shape, not its kind's name.
        try ws.write("stages/judge/stage.yaml", "name: judge\nversion: 1\nrun: [sh, run.sh]\ninputs:\n  model: {kind: model}\n"
            + "outputs:\n  metrics: {kind: metrics}\n")
        try ws.write("stages/judge/run.sh", "echo '{\"test.perplexity\": 42}' > \"$PIPE_OUTPUT_METRICS/metrics.json\"\necho '::metric test.perplexity 42'\n")
    }

    override func tearDown() { ws?.remove() }

    func testReportRendersChartsAndTablesInAHeadlessBrowser() throws {
        XCTAssertEqual(try ws.run(["report", "p.yaml"]).status, 2, "nothing to report before a run")
        _ = try ws.runStages("p.yaml")
        let made = try ws.run(["report", "p.yaml", "-o", "out/report.html"])
        XCTAssertEqual(made.status, 0, made.stderr)
        let html = try ws.read("out/report.html")
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("<script"), "self-contained, no network")

        guard let chromium = Self.chromium else {
            XCTFail("chromium is not installed: scripts/test installs it")
            return
        }
        let page = ws.root.appendingPathComponent("out/report.html").absoluteString
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars"]
        let dom = try Workspace.execute(chromium, flags + ["--dump-dom", page], in: ws.root)
        XCTAssertEqual(dom.status, 0, dom.output)
        func count(_ needle: String) -> Int { dom.output.components(separatedBy: needle).count - 1 }
        XCTAssertGreaterThanOrEqual(count("class=\"chart line-chart\""), 3, "loss, learning-rate and throughput curves")
        XCTAssertGreaterThanOrEqual(count("class=\"chart bar-chart\""), 3, "stage times, the data funnel and the model variants")
        XCTAssertGreaterThanOrEqual(count("<polyline"), 4)
        for table in ["id=\"stages\"", "id=\"funnel\"", "id=\"variants\"", "id=\"gates-evaluate\"", "id=\"metrics-evaluate\"", "id=\"tokenizer-tokenize\"",
                      "id=\"metrics-judge\""] {
            XCTAssertTrue(dom.output.contains(table), "table \(table) is missing")
        }
        let shot = ws.root.appendingPathComponent("out/report.png")
        let screenshot = try Workspace.execute(chromium, flags + ["--window-size=1200,2400", "--screenshot=\(shot.path)", page], in: ws.root)
        XCTAssertEqual(screenshot.status, 0, screenshot.output)
        let png = try Data(contentsOf: shot)
        XCTAssertEqual(Array(png.prefix(4)), [0x89, 0x50, 0x4E, 0x47], "a PNG")
        XCTAssertGreaterThan(png.count, 20_000, "a real rendering, not a blank page")

        // A rerun that recomputes one stage: the report tells it from the reused ones.
        try ws.write("p.yaml", try ws.read("p.yaml").replacingOccurrences(of: "max_new_tokens: 8", with: "max_new_tokens: 9"))
        XCTAssertEqual(try ws.runStages("p.yaml")["evaluate"], "ran")
        XCTAssertEqual(try ws.run(["report", "p.yaml", "-o", "out/report.html"]).status, 0)
        let rerun = try ws.read("out/report.html")
        XCTAssertTrue(rerun.contains("<td>evaluate</td><td>evaluate</td>") && rerun.contains("reused from cache") && rerun.contains(">computed<"), rerun)
    }
}
