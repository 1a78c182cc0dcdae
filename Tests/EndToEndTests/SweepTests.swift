import Foundation
import XCTest

/// `pipe sweep` through the built binary: reproducible sequences, shared and cached stages,
/// resuming after kill -9, two processes on one study, pruning, and the status and best commands.
final class SweepTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
    }

    override func tearDown() { ws.remove() }

    /// A Branin sweep manifest: `sampler` as YAML, `extra` more sweep fields.
    static func braninManifest(sampler: String, trials: Int, parallel: Int, extra: String = "") -> String {
        """
        version: 1
        name: branin
        params: {x1: 0.0, x2: 0.0}
        stages:
          objective:
            uses: ./stages/branin
            with: {x1: "${params.x1}", x2: "${params.x2}"}
        sweep:
          metric: objective.value
          space:
            x1: {kind: uniform, low: -5, high: 10}
            x2: {kind: uniform, low: 0, high: 15}
          sampler: \(sampler)
          trials: \(trials)
          parallel: \(parallel)
        \(extra)
        """
    }

    /// The journal's lines of `study`, as JSON objects.
    func journal(_ study: String) throws -> [[String: Any]] {
        try ws.jsonLines("cache/sweeps/\(study)/journal.jsonl")
    }

    /// `pipe sweep status --json`, parsed.
    func status(_ manifest: String) throws -> [String: Any] {
        let output = try ws.run(["sweep", "status", manifest, "--json"])
        XCTAssertEqual(output.status, 0, output.stderr)
        return try XCTUnwrap(output.json as? [String: Any], output.stdout)
    }

    /// Each trial's params in number order, from `pipe sweep status --json`.
    func sequence(_ manifest: String) throws -> [[String: Double]] {
        let trials = try XCTUnwrap(try status(manifest)["trials"] as? [[String: Any]])
        return trials.sorted { ($0["number"] as! Int) < ($1["number"] as! Int) }.map { $0["params"] as! [String: Double] }
    }

    func testTheSameSeedGivesTheSameTrialsWhateverTheTimingAndTheBestCanBeApplied() throws {
        try ws.writeBranin()
        let tpe = "{kind: tpe, seed: 7, startup_trials: 4}"
        try ws.write("a.yaml", Self.braninManifest(sampler: tpe, trials: 10, parallel: 2, extra: "  study: a"))
        try ws.write("b.yaml", Self.braninManifest(sampler: tpe, trials: 10, parallel: 2, extra: "  study: b"))
        try ws.write("c.yaml", Self.braninManifest(sampler: "{kind: tpe, seed: 8, startup_trials: 4}", trials: 10, parallel: 2, extra: "  study: c"))
        for manifest in ["a.yaml", "b.yaml", "c.yaml"] {
            let output = try ws.run(["sweep", manifest])
            XCTAssertEqual(output.status, 0, output.stderr)
        }
        let a = try sequence("a.yaml")
        XCTAssertEqual(a.count, 10)
        XCTAssertEqual(a, try sequence("b.yaml"), "trial n sees only trials 0...n-2 (parallel 2), so timing cannot change it")
        XCTAssertNotEqual(a, try sequence("c.yaml"))

        let best = try status("a.yaml")
        let value = try XCTUnwrap(best["sweep.best.objective.value"] as? Double)
        let number = try XCTUnwrap(best["best_trial"] as? Int)
        let output = try ws.run(["sweep", "best", "a.yaml", "--write", "best.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let flags = output.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        /// `name=value` pairs as numbers.
        func pairs(_ items: [Substring]) -> [String: Double] {
            Dictionary(uniqueKeysWithValues: items.map { item in
                let parts = item.split(whereSeparator: { $0 == "=" || $0 == ":" })
                return (String(parts[0]), Double(parts[1].trimmingCharacters(in: .whitespaces))!)
            })
        }
        // (Foundation's JSON parser can be off in the last digit, so numbers compare within 1e-12.)
        for written in [pairs(flags.split(separator: " ").filter { $0 != "--set" }), pairs(try ws.read("best.yaml").split(separator: "\n"))] {
            XCTAssertEqual(written.keys.sorted(), ["x1", "x2"])
            for (name, value) in written { XCTAssertEqual(value, a[number][name]!, accuracy: 1e-12 * max(1, abs(value))) }
        }
        // The --set form reproduces the best trial, from the cache.
        let run = try ws.run(["run", "a.yaml", "--json"] + flags.split(separator: " ").map(String.init))
        XCTAssertEqual(((run.json as? [String: Any])?["stages"] as? [[String: Any]])?.first?["status"] as? String, "cached", run.stderr)
        let lowest = try XCTUnwrap(try ws.runRecords(of: "objective").compactMap { ($0["metrics"] as? [String: Double])?["value"] }.min())
        XCTAssertEqual(lowest, value, accuracy: 1e-12 * value)
    }

    /// Starts `pipe arguments` in the workspace with its output discarded; the caller waits.
    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = arguments
        process.currentDirectoryURL = ws.root
        var env = ProcessInfo.processInfo.environment
        env["PIPE_CACHE"] = nil
        process.environment = env
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// How many lines of `event` the journal has for each trial number.
    func counts(_ lines: [[String: Any]], _ event: String) -> [Int: Int] {
        lines.filter { $0["event"] as? String == event }.reduce(into: [:]) { $0[$1["number"] as! Int, default: 0] += 1 }
    }

    func testKilledSweepsResumeToTheSameTrialsEachFinishedOnce() throws {
        try ws.writeBranin(seconds: 0.05)  // so that twelve kills come before the end, however fast the machine
        let sweep = Self.braninManifest(sampler: "{kind: tpe, seed: 3, startup_trials: 5}", trials: 40, parallel: 2)
        try ws.write("m.yaml", sweep)
        var generator = SystemRandomNumberGenerator()
        var kills = 0
        while kills < 12 {
            let process = try start(["sweep", "m.yaml"])
            usleep(UInt32.random(in: 20_000...200_000, using: &generator))
            guard process.isRunning else { break }  // it finished before this kill
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            kills += 1
        }
        XCTAssertGreaterThanOrEqual(kills, 10, "the sweep must have been killed at least ten times")
        let last = try ws.run(["sweep", "m.yaml"])
        XCTAssertEqual(last.status, 0, last.stderr)

        let lines = try journal("branin")
        XCTAssertEqual(counts(lines, "trial_finished"), Dictionary(uniqueKeysWithValues: (0..<40).map { ($0, 1) }),
                       "each planned trial finished exactly once")
        XCTAssertEqual(Set(counts(lines, "trial_started").keys), Set(0..<40))
        let resumed = try sequence("m.yaml")
        let best = try status("m.yaml")

        // The same study uninterrupted, in a workspace of its own.
        let fresh = try Workspace()
        defer { fresh.remove() }
        let killed = ws
        ws = fresh
        defer { ws = killed }
        try ws.writeBranin()
        try ws.write("m.yaml", sweep)
        XCTAssertEqual(try ws.run(["sweep", "m.yaml"]).status, 0)
        XCTAssertEqual(try sequence("m.yaml"), resumed)
        let reference = try status("m.yaml")
        XCTAssertEqual(reference["best_trial"] as? Int, best["best_trial"] as? Int)
        XCTAssertEqual(reference["sweep.best.objective.value"] as? Double, best["sweep.best.objective.value"] as? Double)
    }

    func testTwoProcessesShareAStudyWithoutDuplicatesOrErrors() throws {
        try ws.writeBranin(seconds: 0.2)  // so that neither process is done before the other starts
        try ws.write("m.yaml", Self.braninManifest(sampler: "{kind: random, seed: 5}", trials: 16, parallel: 3))
        let first = try start(["sweep", "m.yaml"]), second = try start(["sweep", "m.yaml"])
        first.waitUntilExit()
        second.waitUntilExit()
        XCTAssertEqual([first.terminationStatus, second.terminationStatus], [0, 0])
        let lines = try journal("branin")
        let once = Dictionary(uniqueKeysWithValues: (0..<16).map { ($0, 1) })
        XCTAssertEqual(counts(lines, "trial_started"), once, "no trial claimed twice")
        XCTAssertEqual(counts(lines, "trial_finished"), once)
        XCTAssertEqual(Set(lines.compactMap { $0["pid"] as? Int }).count, 2, "both processes ran trials")
    }

    func testAHopelessTrialIsPrunedAndKeepsItsPartialCurve() throws {
        // val.loss = quality + 1/step over 20 steps of 50 ms.
        try ws.write("stages/learner/stage.yaml", """
        name: learner
        version: 1
        run: [sh, run.sh]
        params: {quality: {type: float, default: 1}}
        outputs: {metrics: {kind: metrics}}
        """)
        try ws.write("stages/learner/run.sh", """
        step=1
        while [ $step -le 20 ]; do
          awk -v q="$PIPE_PARAM_QUALITY" -v s=$step 'BEGIN { printf "::metric val.loss %.17g step=%d\\n", q + 1 / s, s }'
          sleep 0.05
          step=$((step + 1))
        done
        awk -v q="$PIPE_PARAM_QUALITY" 'BEGIN { printf "::metric val.loss %.17g\\n", q + 1 / 20 }'
        echo '{}' > "$PIPE_OUTPUT_METRICS/metrics.json"

        """)
        try ws.write("m.yaml", """
        version: 1
        name: prune
        params: {quality: 1.0}
        stages:
          learn:
            uses: ./stages/learner
            with: {quality: "${params.quality}"}
            publish: {metrics: out/best/}
        sweep:
          metric: learn.val.loss
          space: {quality: {kind: grid, values: [1.0, 2.0, 5.0]}}
          sampler: {kind: grid}
          prune: {kind: median, startup_trials: 2}
        """)
        let output = try ws.run(["sweep", "m.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("trial 2 pruned at step"), output.stderr)
        let trials = try XCTUnwrap(try status("m.yaml")["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.map { $0["state"] as? String }, ["complete", "complete", "pruned"])
        let curve = try XCTUnwrap(trials[2]["curve"] as? [[Double]])
        XCTAssertFalse(curve.isEmpty)
        XCTAssertLessThan(curve.count, 20, "stopped early")
        XCTAssertEqual(curve.first?[1] ?? 0, 6, accuracy: 1e-9, "its curve as reported: 5 + 1/1 at step 1")
        XCTAssertEqual(trials[0]["value"] as? Double ?? 0, 1.05, accuracy: 1e-9)
        XCTAssertEqual(try ws.runRecords(of: "learn").count, 2, "nothing of the pruned trial is cached")

        // Trials publish nothing; `best --publish` publishes the best trial's outputs from the cache.
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("out/best").path))
        let best = try ws.run(["sweep", "best", "m.yaml", "--publish"])
        XCTAssertEqual(best.status, 0, best.stderr)
        XCTAssertEqual(best.stdout, "--set quality=1\n")
        XCTAssertTrue(best.stderr.contains("published the outputs of trial 0 (0 stages ran)"), best.stderr)
        XCTAssertEqual(try ws.read("out/best/metrics.json"), "{}\n")

        // The report's sweep section: the trials, the metric per trial, parallel coordinates, curves.
        let report = try ws.run(["report", "m.yaml", "-o", "report.html"])
        XCTAssertEqual(report.status, 0, report.stderr)
        let html = try ws.read("report.html")
        XCTAssertTrue(html.contains("<section id=\"sweep\">") && html.contains("<table id=\"sweep-trials\">"), html)
        XCTAssertEqual(html.components(separatedBy: "<td>quality=").count - 1, 3, "a row per trial")
        XCTAssertTrue(html.contains("class=\"chart parallel-coordinates\""))
        XCTAssertTrue(html.contains("trial 2 (pruned)") && html.contains("stroke-dasharray"), "the pruned curve is marked")
    }

    func testAGridSharesTheTokenizerAndARepeatedStudyComesFromTheCache() throws {
        try ws.addDocsCorpus()
        let manifest = { (study: String) in """
        version: 1
        name: grid
        params: {vocab: 300, lr: 0.003}
        stages:
          text:
            uses: collect
            with: {sources: [{path: corpus, include: ["**/*.md"]}]}
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: text.documents}
            with: {vocab_size: "${params.vocab}", split_by: tokens, splits: {train: 0.9, val: 0.1, test: 0.0}}
          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 1, heads: 2, dim: 16, context: 16}, batch: 4, steps: 10, lr: "${params.lr}", warmup: 0,
                   eval_every: 5, eval_tokens: 512, log_every: 5}
        sweep:
          metric: train.val.loss
          space:
            vocab: {kind: grid, values: [300, 320]}
            lr: {kind: grid, values: [0.003, 0.01]}
          sampler: {kind: grid}
          parallel: 2
          study: \(study)
        """ }
        try ws.write("m.yaml", manifest("first"))
        let output = try ws.run(["sweep", "m.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let trials = try XCTUnwrap(try status("m.yaml")["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.count, 4)
        XCTAssertEqual(Set(trials.map { $0["state"] as? String }), ["complete"])
        XCTAssertEqual(Set(trials.map { ($0["params"] as? [String: Double])?["vocab"] }), [300, 320])
        XCTAssertEqual(trials.map { ($0["curve"] as? [[Double]])?.map { $0[0] } }, Array(repeating: [5, 10], count: 4),
                       "train reported its validation loss at each evaluation")
        XCTAssertEqual(try ws.runRecords(of: "tokenize").count, 2, "the tokenizer ran once per vocabulary, not per trial")
        XCTAssertEqual(try ws.runRecords(of: "text").count, 1)
        XCTAssertEqual(try ws.runRecords(of: "train").count, 4)
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("m.lock").path),
                       "trials do not touch the manifest's lock file")
        let gc = try ws.run(["gc", "--grace", "0"])
        XCTAssertEqual(gc.status, 0, gc.stderr)
        XCTAssertEqual(try ws.runRecords(of: "train").count, 4, "gc keeps every trial's runs, which the journal names")

        // The same configurations in another study: every trial is answered from the cache.
        try ws.write("m.yaml", manifest("again"))
        let again = try ws.run(["sweep", "m.yaml", "--json"])
        XCTAssertEqual(again.status, 0, again.stderr)
        let repeated = try XCTUnwrap((again.json as? [String: Any])?["trials"] as? [[String: Any]])
        XCTAssertEqual(repeated.compactMap { $0["value"] as? Double }.sorted(), trials.compactMap { $0["value"] as? Double }.sorted())
        XCTAssertEqual(try ws.runRecords(of: "train").count, 4, "no stage ran again")
        XCTAssertEqual(try ws.runRecords(of: "tokenize").count, 2)
    }

    func testATrialOverTheBudgetIsRefusedBeforeItTrains() throws {
        try ws.addDocsCorpus()
        try ws.write("m.yaml", """
        version: 1
        name: budget
        params: {dim: 16}
        stages:
          objective:
            uses: objective
            with: {budget: {max_parameters: 20000}}
        \(Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.9, val: 0.1, test: 0.0}"))
          train:
            uses: train
            inputs: {tokens: tokenize.tokens, budget: objective.budget}
            with: {model: {layers: 1, heads: 2, dim: "${params.dim}", context: 16}, batch: 4, steps: 10, eval_every: 5, eval_tokens: 512}
        sweep:
          metric: train.val.loss
          space: {dim: {kind: grid, values: [16, 64]}}
          sampler: {kind: grid}
        """)
        let output = try ws.run(["sweep", "m.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        let trials = try XCTUnwrap(try status("m.yaml")["trials"] as? [[String: Any]])
        XCTAssertEqual(trials.map { $0["state"] as? String }, ["complete", "refused"])
        XCTAssertTrue((trials[1]["message"] as? String ?? "").contains("over max_parameters 20000"), "\(trials[1])")
        XCTAssertEqual(counts(try journal("budget"), "refused"), [1: 1])
    }
}
