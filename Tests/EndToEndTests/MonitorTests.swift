import Foundation
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

    private func metrics(_ folder: String) throws -> [String: Double] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent(folder + "/metrics.json"))) as! [String: Double]
    }
}
