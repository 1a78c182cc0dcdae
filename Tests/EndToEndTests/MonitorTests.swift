import Foundation
import PipeKit
import XCTest

/// The `monitor` stage through the built binary: a small model trained on passages of the
/// project's docs, then held-out docs passages, German text (Vim's tutor), licence texts
/// (Debian's common-licenses) and mostly boilerplate measured against its training documents;
/// and every statistic recomputed by scipy and numpy from the histograms the stage wrote.
final class MonitorTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
    }

    override func tearDown() { ws?.remove() }

    static let germanTutor = "/usr/share/vim/vim90/tutor/tutor.de.utf-8"
    static let licenses = "/usr/share/common-licenses"

    /// Documents of three consecutive non-blank lines (the last of a file may be shorter) of
    /// at least 40 bytes, from the given files.
    static func passages(_ paths: [String]) throws -> [String] {
        try paths.flatMap { path -> [String] in
            let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
                .filter { !$0.allSatisfy(\.isWhitespace) }
            return stride(from: 0, to: lines.count, by: 3).map { lines[$0..<min($0 + 3, lines.count)].joined(separator: "\n") }
                .filter { $0.utf8.count >= 40 }
        }
    }

    /// Writes texts as a JSONL file collect reads as documents.
    private func writeDocuments(_ relative: String, _ texts: some Sequence<String>) throws {
        let lines = try texts.map { String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0]), as: UTF8.self) }
        try ws.write(relative, lines.joined(separator: "\n") + "\n")
    }

    /// Thresholds between what this test measures for held-out docs (token JS about 0.006, PSI 0.001,
    /// bits-per-byte interval about [-0.15, 0.1]) and for German or licences (JS 0.06 to 0.19,
    /// PSI 0.11 and up).
    static let gates = "{drift.token_js: {max: 0.03}, drift.token_psi: {max: 0.05}, drift.bits_per_byte_delta_low: {max: 0.3}, drift.language_shift: {max: 0.2}, drift.length_wasserstein: {max: 0.5}}"

    func testHeldOutDocsPassOtherLanguageDomainAndBoilerplateFailNamingTheMetric() throws {
        let licenseFiles = ["GPL-3", "Apache-2.0", "LGPL-3", "MPL-2.0"].map { "\(Self.licenses)/\($0)" }
        for path in [Self.germanTutor] + licenseFiles where !FileManager.default.fileExists(atPath: path) {
            throw XCTSkip("\(path) is not installed (Debian's vim-runtime and base-files)")
        }
        guard FileManager.default.isExecutableFile(atPath: TokenizerTests.python) else {
            throw XCTSkip("no Python at \(TokenizerTests.python) (set PIPE_PYTHON, see requirements-test.txt)")
        }
        // Docs passages, shuffled with a fixed seed: 80% train the model and are the reference, 20% are held out.
        let docs = try FileManager.default.contentsOfDirectory(atPath: Workspace.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { Workspace.repository.appendingPathComponent("docs/\($0)").path }
        var shuffled = try Self.passages(docs)
        var state: UInt64 = 11
        for i in stride(from: shuffled.count - 1, to: 0, by: -1) {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            shuffled.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
        }
        let cut = shuffled.count * 4 / 5
        try writeDocuments("data/reference.jsonl", shuffled[..<cut])
        try writeDocuments("data/heldout.jsonl", shuffled[cut...])
        try writeDocuments("data/german.jsonl", try Self.passages([Self.germanTutor]))
        try writeDocuments("data/licenses.jsonl", try Self.passages(licenseFiles))
        try writeDocuments("data/few.jsonl", shuffled[cut..<(cut + 10)])
        // Mostly boilerplate: four in five documents are the same navigation and cookie text.
        let boilerplate = "Home | About | Contact | Privacy policy | Terms of use\nWe use cookies to improve your experience. Accept all cookies?"
        try writeDocuments("data/boilerplate.jsonl", shuffled[cut...].enumerated().map { $0.offset % 5 == 0 ? $0.element : boilerplate })

        func collect(_ name: String) -> String {
            "  \(name):\n    uses: collect\n    with: {sources: [{path: data/\(name).jsonl}]}\n"
        }
        func monitor(_ name: String, current: String, gate: String = "fail") -> String {
            """
              \(name):
                uses: monitor
                inputs: {reference: reference.documents, current: \(current).documents, tokenizer: tokenize.tokenizer, model: train.model}
                with: {gates: \(Self.gates), gate: \(gate), max_scored_tokens: 12000, resamples: 300, seed: 3}
                publish: {drift: out/\(name)/}

            """
        }
        try ws.write("p.yaml", """
        version: 1
        name: monitor-test
        stages:
        \(["reference", "heldout", "german", "licenses", "few", "boilerplate"].map(collect).joined())
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: reference.documents}
            with: {vocab_size: 300, split_by: tokens, splits: {train: 0.9, val: 0.1, test: 0.0}}
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 120, lr: 3.0e-3, warmup: 5, eval_every: 120, eval_tokens: 1024}
        \(monitor("same", current: "heldout"))\(monitor("german_text", current: "german"))\(monitor("legal", current: "licenses", gate: "warn"))\(monitor("too_few", current: "few"))\(monitor("boilerplate_text", current: "boilerplate"))
          after_german:
            uses: ./stages/examples/stats
            inputs: {documents: german.documents}
            needs: [german_text]
        """)
        let run = try ws.run(["run", "p.yaml", "--keep-going", "--json"])
        let stages = try XCTUnwrap((run.json as? [String: Any])?["stages"] as? [[String: Any]], run.stdout + run.stderr)
        func stage(_ name: String) -> [String: Any] { stages.first { $0["stage"] as? String == name } ?? [:] }

        XCTAssertEqual(stage("same")["status"] as? String, "ran", "\(stage("same"))")
        let same = try metrics("out/same")
        for name in ["drift.token_js", "drift.token_psi", "drift.bits_per_byte_delta", "drift.length_wasserstein", "drift.language_shift"] {
            XCTAssertNotNil(same[name], name)
        }
        XCTAssertLessThanOrEqual(same["drift.bits_per_byte_delta_low"]!, same["drift.bits_per_byte_delta"]!)
        XCTAssertLessThanOrEqual(same["drift.bits_per_byte_delta"]!, same["drift.bits_per_byte_delta_high"]!)

        // German: the language mix is what moved, the tokens with it, and the model does worse
        // beyond the bootstrap interval; what needs the monitor is skipped.
        XCTAssertEqual(stage("german_text")["status"] as? String, "failed")
        let germanError = stage("german_text")["error"] as? String ?? ""
        for name in ["drift.language_shift = ", "drift.token_js = ", "drift.bits_per_byte_delta_low = "] {
            XCTAssertTrue(germanError.contains(name), germanError)
        }
        XCTAssertEqual(stage("after_german")["status"] as? String, "skipped")

        // Licences: English, so not the language; the tokens moved. gate: warn reports it and goes on.
        // (The small model finds legal prose easier than the docs: its bits per byte go down.)
        XCTAssertEqual(stage("legal")["status"] as? String, "ran", "\(stage("legal"))")
        let warnings = (stage("legal")["warnings"] as? [String] ?? []).joined(separator: "\n")
        XCTAssertTrue(warnings.contains("drift.token_js = ") && warnings.contains("drift.token_psi = "), warnings)
        XCTAssertFalse(warnings.contains("drift.language_shift"), warnings)
        let details = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/legal/details.json"))) as! [String: Any]
        let contributors = (details["token_js"] as! [String: Any])["top_contributors"] as! [[String: Any]]
        XCTAssertEqual(contributors.count, 20)

        // Mostly boilerplate: the tokens moved (a few pieces of one text dominate), not the language.
        XCTAssertEqual(stage("boilerplate_text")["status"] as? String, "failed")
        let boilerplateError = stage("boilerplate_text")["error"] as? String ?? ""
        XCTAssertTrue(boilerplateError.contains("drift.token_js = "), boilerplateError)
        XCTAssertFalse(boilerplateError.contains("drift.language_shift"), boilerplateError)

        // Ten documents: the stage says it cannot judge instead of guessing.
        XCTAssertEqual(stage("too_few")["status"] as? String, "failed")
        let fewError = stage("too_few")["error"] as? String ?? ""
        XCTAssertTrue(fewError.contains("cannot judge drift: current has 10 documents (min_documents 50)"), fewError)

        // scipy and numpy agree with every statistic, on both published results.
        for folder in ["out/same", "out/legal"] {
            let check = try Workspace.execute(TokenizerTests.python, [
                Workspace.repository.appendingPathComponent("tests-python/drift_conformance.py").path, folder,
            ], in: ws.root)
            XCTAssertEqual(check.status, 0, check.output)
        }
    }

    /// A request log of `count` requests written the way `pipe serve --log` writes them, with
    /// seeded noise: latency around `latency` ms, mean log-probability around `logprob`, and a
    /// share `lengthStops` stopped at their token limit.
    private static func requestLines(_ count: Int, latency: Double, logprob: Double, lengthStops: Double,
                                     rng: inout SplitMix64) -> [String]
    {
        (0..<count).map { n in
            let tokens = 8 + Int(rng.next() % 24)
            let line: [String: Any] = [
                "time": "2026-12-02T08:00:00Z", "id": "cmpl-\(n)", "endpoint": "/v1/completions", "model": "m",
                "prompt_tokens": 12, "completion_tokens": tokens,
                "finish_reason": Double(rng.next() % 1000) / 1000 < lengthStops ? "length" : "stop",
                "latency_ms": latency * (0.75 + Double(rng.next() % 500) / 1000), "ttft_ms": 20 + Double(rng.next() % 10),
                "mean_logprob": logprob * (0.8 + Double(rng.next() % 400) / 1000),
            ]
            return String(decoding: try! JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self)
        }
    }

    /// Served requests: a log whose last window is like the one before passes; one where the
    /// model has become less sure, cuts more answers at their limit and slows down fails naming
    /// those three. Clean rejects: fresh text that the reference's filters would mostly reject
    /// fails on the reject rate's rise. No model is trained, so this runs in seconds.
    func testServedRequestsAndCleanRejectsDriftNamingTheMetric() throws {
        guard FileManager.default.isExecutableFile(atPath: TokenizerTests.python) else {
            throw XCTSkip("no Python at \(TokenizerTests.python) (set PIPE_PYTHON, see requirements-test.txt)")
        }
        var rng = SplitMix64(seed: 5)
        let steady = Self.requestLines(240, latency: 100, logprob: -1.2, lengthStops: 0.1, rng: &rng)
        try ws.write("logs/steady.jsonl", steady.joined(separator: "\n") + "\n")
        let worse = Self.requestLines(120, latency: 100, logprob: -1.2, lengthStops: 0.1, rng: &rng)
            + Self.requestLines(120, latency: 260, logprob: -2.0, lengthStops: 0.5, rng: &rng)
        // A crash can leave the last line half-written: it is passed over.
        try ws.write("logs/worse.jsonl", worse.joined(separator: "\n") + "\n" + String(worse[0].prefix(30)))
        try ws.write("logs/corrupt.jsonl", (steady[..<100] + ["{\"completion_tokens\": -3}"] + steady[100...]).joined(separator: "\n") + "\n")

        let docs = try FileManager.default.contentsOfDirectory(atPath: Workspace.repository.appendingPathComponent("docs").path)
            .filter { $0.hasSuffix(".md") }.sorted().map { Workspace.repository.appendingPathComponent("docs/\($0)").path }
        let passages = try Self.passages(docs)
        try writeDocuments("data/reference.jsonl", passages.enumerated().filter { $0.offset % 2 == 0 }.map(\.element))
        try writeDocuments("data/heldout.jsonl", passages.enumerated().filter { $0.offset % 2 == 1 }.map(\.element))
        // Fresh text where two documents in three are navigation fragments.
        try writeDocuments("data/fragments.jsonl", passages.prefix(300).enumerated().map { $0.offset % 3 == 0 ? $0.element : "Read more »" })
        let requestGates = "{drift.mean_logprob_delta_high: {min: -0.1}, drift.length_stops_delta: {max: 0.1}, drift.latency_p90_ratio: {max: 1.5}}"
        try ws.write("p.yaml", """
        version: 1
        name: monitor-requests
        params:
          filters: {preset: minimal, min_words: 5}
        stages:
        \(["reference", "heldout", "fragments"].map { "  \($0):\n    uses: collect\n    with: {sources: [{path: data/\($0).jsonl}]}\n" }.joined())\(["reference", "heldout", "fragments"].map { "  clean_\($0):\n    uses: clean\n    inputs: {documents: \($0).documents}\n    with: ${params.filters}\n" }.joined())
          steady:
            uses: monitor
            with: {request_log: logs/steady.jsonl, request_window: 120, gates: \(requestGates), seed: 1}
            publish: {drift: out/steady/}
          worse:
            uses: monitor
            with: {request_log: logs/worse.jsonl, request_window: 120, gates: \(requestGates), gate: warn, seed: 1}
            publish: {drift: out/worse/}
          short_log:
            uses: monitor
            with: {request_log: logs/steady.jsonl, request_window: 200, gates: \(requestGates)}
          corrupt_log:
            uses: monitor
            with: {request_log: logs/corrupt.jsonl, request_window: 120}
          same_filters:
            uses: monitor
            inputs: {reference_clean: clean_reference.stats, current_clean: clean_heldout.stats}
            with: {gates: {drift.reject_rate_delta: {max: 0.1}}}
            publish: {drift: out/same_filters/}
          rejected:
            uses: monitor
            inputs: {reference_clean: clean_reference.stats, current_clean: clean_fragments.stats}
            with: {gates: {drift.reject_rate_delta: {max: 0.1}}, gate: warn}
            publish: {drift: out/rejected/}
        """)
        let run = try ws.run(["run", "p.yaml", "--keep-going", "--json"])
        let stages = try XCTUnwrap((run.json as? [String: Any])?["stages"] as? [[String: Any]], run.stdout + run.stderr)
        func stage(_ name: String) -> [String: Any] { stages.first { $0["stage"] as? String == name } ?? [:] }

        XCTAssertEqual(stage("steady")["status"] as? String, "ran", "\(stage("steady"))")
        let steadyMetrics = try metrics("out/steady")
        XCTAssertEqual(steadyMetrics["drift.earlier.requests"], 120)
        XCTAssertEqual(steadyMetrics["drift.current.requests"], 120)
        XCTAssertLessThan(abs(steadyMetrics["drift.mean_logprob_delta"] ?? 1), 0.1)

        XCTAssertEqual(stage("worse")["status"] as? String, "ran", "\(stage("worse"))")
        let worseError = (stage("worse")["warnings"] as? [String] ?? []).joined(separator: "\n")
        for name in ["drift.mean_logprob_delta_high = ", "drift.length_stops_delta = ", "drift.latency_p90_ratio = "] {
            XCTAssertTrue(worseError.contains(name), worseError)
        }
        let worseMetrics = try metrics("out/worse")
        XCTAssertEqual(worseMetrics["drift.current.requests"], 120, "the torn last line is not a request")
        XCTAssertLessThan(worseMetrics["drift.mean_logprob_delta_high"]!, -0.5)

        let shortError = stage("short_log")["error"] as? String ?? ""
        XCTAssertTrue(shortError.contains("cannot judge drift: the request log's earlier window has 40 requests (min_requests 50"), shortError)
        let corruptError = stage("corrupt_log")["error"] as? String ?? ""
        XCTAssertTrue(corruptError.contains("corrupt.jsonl:101: not a request log line"), corruptError)

        XCTAssertEqual(stage("same_filters")["status"] as? String, "ran", "\(stage("same_filters"))")
        XCTAssertLessThan(abs(try metrics("out/same_filters")["drift.reject_rate_delta"] ?? 1), 0.1)
        XCTAssertEqual(stage("rejected")["status"] as? String, "ran", "\(stage("rejected"))")
        let rejectedError = (stage("rejected")["warnings"] as? [String] ?? []).joined(separator: "\n")
        XCTAssertTrue(rejectedError.contains("drift.reject_rate_delta = "), rejectedError)
        let rejected = try metrics("out/rejected")
        XCTAssertEqual(rejected["drift.current.reject_rate"]!, 200.0 / 300.0, accuracy: 0.02)
        let details = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/rejected/details.json"))) as! [String: Any]
        let currentFilters = (((details["reject_rate"] as! [String: Any])["current"] as! [String: Any])["filters"] as! [String: Any])
        XCTAssertNotNil(currentFilters["length"], "\(currentFilters)")

        // numpy's percentiles and means agree with the served-request statistics.
        for folder in ["out/steady", "out/worse"] {
            let check = try Workspace.execute(TokenizerTests.python, [
                Workspace.repository.appendingPathComponent("tests-python/drift_conformance.py").path, folder,
            ], in: ws.root)
            XCTAssertEqual(check.status, 0, check.output)
            XCTAssertTrue(check.output.contains("drift.current.latency_ms_p90"), check.output)
        }
    }

    private func metrics(_ folder: String) throws -> [String: Double] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent(folder + "/metrics.json"))) as! [String: Double]
    }
}
