import Foundation
import XCTest

/// The `train` stage through the built binary: it learns, it resumes exactly after a kill,
/// it honours the budget, and it continues an earlier model.
final class TrainTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.addDocsCorpus()
    }

    override func tearDown() { ws.remove() }

    /// Real text (the project's docs) → byte-level BPE → a small model.
    static func manifest(train: String, budget: String = "{}", extraInputs: String = "", extraStages: String = "") -> String {
        """
        version: 1
        name: train-test
        stages:
          objective:
            uses: objective
            with: {budget: \(budget)}
        \(Workspace.docsTokenizeStages(vocab: 320, splits: "{train: 0.9, val: 0.1, test: 0.0}"))
          train:
            uses: train
            inputs: {tokens: tokenize.tokens, budget: objective.budget\(extraInputs)}
            with: \(train)
            publish: {model: out/model/, metrics: out/metrics/}
        \(extraStages)
        """
    }

    static let small = "{model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 150, lr: 3.0e-3, warmup: 5, eval_every: 50, eval_tokens: 4096, log_every: 5, checkpoint_every: 10}"

    private func curve(_ folder: String) throws -> [[String: Any]] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("\(folder)/curve.json"))) as! [[String: Any]]
    }

    func testTrainingLowersTheValidationLossAndWritesAHuggingFaceModel() throws {
        try ws.write("p.yaml", Self.manifest(train: Self.small))
        XCTAssertEqual(try ws.runStages("p.yaml")["train"], "ran")
        let points = try curve("out/metrics")
        let val = points.compactMap { $0["valLoss"] as? Double }
        XCTAssertEqual(val.count, 3, "validation at steps 50, 100, 150")
        XCTAssertLessThan(val.last!, val.first!)
        XCTAssertLessThan(val.last!, log(320.0) - 1, "well below a uniform guess over the vocabulary")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/metrics/metrics.json"))) as! [String: Double]
        XCTAssertEqual(metrics["train.steps"], 150)
        XCTAssertEqual(metrics["val.loss"]!, val.last!, accuracy: 1e-12)
        // Each evaluation was reported as it happened: the run record keeps the curve.
        let reported = try XCTUnwrap((try ws.runRecords(of: "train").first?["curves"] as? [String: Any])?["val.loss"] as? [[String: Any]])
        XCTAssertEqual(reported.map { $0["step"] as? Int }, [50, 100, 150])
        XCTAssertEqual(reported.compactMap { $0["value"] as? Double }, val)
        XCTAssertGreaterThan(metrics["train.tokens_per_second"]!, 0)
        let config = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/model/config.json"))) as! [String: Any]
        XCTAssertEqual(config["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(config["vocab_size"] as? Int, 320)
        XCTAssertEqual(config["intermediate_size"] as? Int, 96, "the multiple of 32 nearest 8·32/3")
        XCTAssertTrue(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("out/model/model.safetensors").path))
        XCTAssertEqual(try ws.runStages("p.yaml")["train"], "cached")
    }

    /// The kernels the train stage logs that OpenBLAS runs (`OpenBLAS kernels: NAME;`).
    private func openBLASKernels(cache: String) throws -> String {
        let log = try ws.run(["show", "p.yaml", "train", "--log", "--cache", cache]).stdout
        let line = try XCTUnwrap(log.split(separator: "\n").first { $0.contains("OpenBLAS kernels: ") }, log)
        return String(line.split(separator: "OpenBLAS kernels: ")[1].prefix { $0 != ";" })
    }

    /// On a CPU with AVX2 and FMA, training runs OpenBLAS kernels that use them, even where
    /// OpenBLAS itself would fall back to SSE3 (CPU models it does not know); a choice the
    /// environment makes with OPENBLAS_CORETYPE is kept.
    func testOpenBLASKernelsFitTheCPUUnlessTheEnvironmentChoosesThem() throws {
        let tiny = "{model: {layers: 1, heads: 2, dim: 32, context: 32}, batch: 4, steps: 4, warmup: 1, eval_every: 4, eval_tokens: 512}"
        try ws.write("p.yaml", Self.manifest(train: tiny))
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }?.split(separator: " ").map(String.init) ?? [])
        let detectedRun = try ws.run(["run", "p.yaml", "--cache", "detected"], environment: ["OPENBLAS_CORETYPE": ""])  // as if unset
        XCTAssertEqual(detectedRun.status, 0, detectedRun.stderr)
        let detected = try openBLASKernels(cache: "detected")
        if flags.isSuperset(of: ["avx2", "fma"]) {
            XCTAssertTrue(["Haswell", "Zen", "SkylakeX", "Cooperlake", "SapphireRapids", "Excavator"].contains(detected), detected)
        }
        let forced = try ws.run(["run", "p.yaml", "--cache", "forced"], environment: ["OPENBLAS_CORETYPE": "Prescott"])
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try openBLASKernels(cache: "forced"), "Prescott")
    }

    func testKilledTrainingResumesAndReproducesTheUninterruptedCurve() throws {
        try assertResumesBitForBit("{model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 300, lr: 3.0e-3, warmup: 5, eval_every: 50, eval_tokens: 2048, log_every: 10, checkpoint_every: 25}")
    }

    /// Muon keeps its momentum where a checkpoint saves AdamW's moments, the WSD schedule
    /// depends on the step only, and the QK-norm weights are parameters like any other: a
    /// killed run resumes to the same bits.
    func testKilledMuonTrainingWithWSDAndQKNormResumesToTheSameBits() throws {
        try assertResumesBitForBit("{model: {layers: 2, heads: 2, dim: 32, context: 32, qk_norm: true}, batch: 8, steps: 300, lr: 3.0e-3, warmup: 5, optimizer: muon, muon: {lr: 0.02}, schedule: wsd, cooldown: 0.3, eval_every: 50, eval_tokens: 2048, log_every: 10, checkpoint_every: 25}")
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/metrics/metrics.json"))) as! [String: Double]
        XCTAssertLessThan(metrics["val.loss"]!, 4.5, "it learns (a uniform guess over 320 tokens is 5.77)")
    }

    private func assertResumesBitForBit(_ train: String) throws {
        try ws.write("p.yaml", Self.manifest(train: train))
        // Uninterrupted, in a cache of its own.
        XCTAssertEqual(try ws.runStages("p.yaml", ["--cache", "reference-cache"])["train"], "ran")
        let reference = try curve("out/metrics")
        let referenceWeights = try Data(contentsOf: ws.root.appendingPathComponent("out/model/model.safetensors"))
        try FileManager.default.removeItem(at: ws.root.appendingPathComponent("out"))

        // Killed (SIGKILL, no chance to clean up) once a checkpoint past step 0 exists.
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = ["run", "p.yaml"]
        process.currentDirectoryURL = ws.root
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let work = ws.root.appendingPathComponent("cache/work")
        let deadline = Date().addingTimeInterval(300)
        var killed = false
        while Date() < deadline, process.isRunning {
            let checkpoints = (FileManager.default.enumerator(atPath: work.path)?.allObjects as? [String] ?? []).filter { $0.hasSuffix("checkpoint.bin") }
            if !checkpoints.isEmpty {
                kill(process.processIdentifier, SIGKILL)
                killed = true
                break
            }
            usleep(20_000)
        }
        process.waitUntilExit()
        XCTAssertTrue(killed, "training finished before a checkpoint could be interrupted")

        let resumed = try ws.run(["run", "p.yaml", "-v"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue((resumed.stdout + resumed.stderr).contains("resuming from the checkpoint at step"), resumed.stdout)
        let curve = try curve("out/metrics")
        func losses(_ c: [[String: Any]]) -> [String] {
            c.map { "\($0["step"]!) \($0["trainLoss"]!) \($0["valLoss"] ?? "-") \($0["gradientNorm"]!)" }
        }
        XCTAssertEqual(losses(curve), losses(reference), "the resumed curve must equal the uninterrupted one bit for bit")
        XCTAssertEqual(try Data(contentsOf: ws.root.appendingPathComponent("out/model/model.safetensors")), referenceWeights)
    }

    func testBudgetRefusesAnOversizedModelAndStopsOnTime() throws {
        try ws.write("p.yaml", Self.manifest(train: Self.small, budget: "{max_parameters: 5000}"))
        let refused = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("over max_parameters 5000"), refused.stderr)
        let summary = try ws.run(["run", "p.yaml", "--json"])
        let train = ((summary.json as? [String: Any])?["stages"] as? [[String: Any]])?.first { $0["stage"] as? String == "train" }
        XCTAssertEqual(train?["status"] as? String, "refused", "refused before running, not failed while running")

        let long = "{model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 100000, eval_every: 1000, eval_tokens: 2048}"
        try ws.write("p.yaml", Self.manifest(train: long, budget: "{max_train_seconds: 2}"))
        let started = Date()
        XCTAssertEqual(try ws.runStages("p.yaml")["train"], "ran")
        XCTAssertLessThan(Date().timeIntervalSince(started), 60)
        let metrics = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/metrics/metrics.json"))) as! [String: Double]
        XCTAssertEqual(metrics["train.stopped_by_budget"], 1)
        XCTAssertLessThan(metrics["train.steps"]!, 100000)
        XCTAssertNotNil(metrics["val.loss"], "a stopped run still measures where it got to")
    }

    func testInitFromContinuesAnEarlierModel() throws {
        let more = """
          more:
            uses: train
            inputs: {tokens: tokenize.tokens, init_from: train.model}
            with: {model: {layers: 2, heads: 2, dim: 32, context: 32}, batch: 8, steps: 20, lr: 1.0e-3, warmup: 0, eval_every: 20, eval_tokens: 4096, log_every: 5}
            publish: {metrics: out/more/}
        """
        let fresh = """
          fresh_tokens:
            uses: bpe-tokenize
            inputs: {documents: text.documents, tokenizer: tokenize.tokenizer}
            with: {split_by: tokens, splits: {train: 0.5, val: 0.5, test: 0.0}}
        """
        try ws.write("p.yaml", Self.manifest(train: Self.small, extraStages: more + "\n" + fresh))
        XCTAssertEqual(try ws.runStages("p.yaml")["more"], "ran")
        let show = try ws.run(["show", "p.yaml", "fresh_tokens", "--json"])
        XCTAssertTrue(show.stdout.contains("using tokenizer"), "a given tokenizer is reused, not retrained: \(show.stdout)")
        let first = try curve("out/metrics"), second = try curve("out/more")
        let endOfFirst = first.last!["trainLoss"] as! Double, startOfSecond = second.first!["trainLoss"] as! Double
        XCTAssertLessThan(startOfSecond, endOfFirst + 0.3, "continued training starts where the first model ended, not from scratch")
        XCTAssertLessThan(startOfSecond, log(320.0) - 1)

        try ws.write("p.yaml", Self.manifest(train: Self.small, extraStages: more.replacingOccurrences(of: "dim: 32", with: "dim: 64")))
        let mismatch = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(mismatch.status, 1)
        XCTAssertTrue(mismatch.stderr.contains("dim is 32 there, 64 here"), mismatch.stderr)
    }
}
