import Foundation
import PipeKit
import Synchronization
import Transformer
import XCTest

/// `pipe serve` through the built binary on loopback, driven by the official openai client (in
/// .venv/), curl and killed clients. The model is random (seeded) with no end-of-text token, so
/// every generation runs to its max_tokens unless a stop string or the client ends it.
final class ServeTests: XCTestCase {
    /// The workspace with the tokenizer and the model, made once for the class.
    nonisolated(unsafe) private static var workspace: Workspace?
    nonisolated(unsafe) private static var shared: ServeProcess?
    static let key = "test-key"
    static let prompt = "The engine runs stages"

    private var ws: Workspace { Self.workspace! }
    private var server: ServeProcess { Self.shared! }

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: TokenizerTests.python) else {
            throw XCTSkip("no Python with the test packages at \(TokenizerTests.python): run scripts/test, which creates .venv/")
        }
        if Self.workspace == nil {
            let ws = try Workspace()
            try ws.addDocsCorpus()
            try ws.write("p.yaml", "version: 1\nname: serve-test\nstages:\n" + Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.9, val: 0.1, test: 0.0}")
                + "\n    publish: {tokenizer: out/tokenizer/}\n")
            XCTAssertEqual(try ws.runStages("p.yaml")["tokenize"], "ran")
            try Self.writeRandomModel(in: ws, to: "out/model", seed: 11)
            Self.workspace = ws
        }
        if Self.shared == nil {
            Self.shared = try ServeProcess.start(in: ws, ["out/model", "-t", "out/tokenizer", "--slots", "2", "--threads", "1",
                                                          "--api-key", Self.key, "--log", "requests.jsonl", "--max-body-bytes", "1048576"])
        }
    }

    override class func tearDown() {
        shared?.kill()
        shared = nil
        workspace?.remove()
        workspace = nil
    }

    /// A seeded random model over the tokenizer's vocabulary, with a long context so a
    /// generation can outlast a client.
    private static func writeRandomModel(in ws: Workspace, to relative: String, seed: UInt64) throws {
        let tokenizer = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/tokenizer/tokenizer.json"))) as! [String: Any]
        let vocab = ((tokenizer["model"] as! [String: Any])["vocab"] as! [String: Any]).count
        let model = TransformerModel(config: ModelConfig(vocabSize: vocab, dim: 128, layers: 4, heads: 4, context: 4096))
        model.initialize(seed: seed)
        let folder = ws.root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try ModelFiles.save(model, to: folder)
    }

    func testTheOpenAIClientGetsCompletionsStreamsEchoScoresAndErrors() throws {
        let dump = try ws.run(["generate", "out/model", "-t", "out/tokenizer", "--prompt", Self.prompt, "-n", "0", "--dump-logits", "logits.bin"])
        XCTAssertEqual(dump.status, 0, dump.stderr)
        let script = Workspace.repository.appendingPathComponent("tests-python/serve_openai_client.py").path
        let run = try Workspace.execute(TokenizerTests.python, [script, server.baseURL + "/v1", Self.key, Self.prompt, "logits.bin"], in: ws.root)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("all checks passed"), run.output)

        let log = try ws.jsonLines("requests.jsonl")
        XCTAssertGreaterThan(log.count, 10)
        let line = try XCTUnwrap(log.first { $0["endpoint"] as? String == "/v1/completions" })
        for field in ["time", "id", "model", "prompt_tokens", "completion_tokens", "finish_reason", "latency_ms", "ttft_ms", "mean_logprob"] {
            XCTAssertNotNil(line[field], field)
        }
        XCTAssertNil(line["prompt"], "text is logged only with --log-text")

        // The monitor reads this log as it is: its last two windows, checked against numpy.
        let window = log.count / 2
        try ws.write("monitor.yaml", """
        version: 1
        name: served-drift
        stages:
          served:
            uses: monitor
            with: {request_log: requests.jsonl, request_window: \(window), min_requests: \(window), resamples: 200}
            publish: {drift: out/served/}
        """)
        let monitor = try ws.run(["run", "monitor.yaml", "--force", "served"])
        XCTAssertEqual(monitor.status, 0, monitor.stderr)
        let drift = try JSONSerialization.jsonObject(with: Data(contentsOf: ws.root.appendingPathComponent("out/served/metrics.json"))) as! [String: Double]
        XCTAssertEqual(drift["drift.current.requests"], Double(window))
        XCTAssertNotNil(drift["drift.mean_logprob_delta"], "\(drift)")
        let check = try Workspace.execute(TokenizerTests.python, [
            Workspace.repository.appendingPathComponent("tests-python/drift_conformance.py").path, "out/served",
        ], in: ws.root)
        XCTAssertEqual(check.status, 0, check.output)
    }

    func testEchoedLogProbabilitiesEqualEvaluatesScores() throws {
        var items = ""
        for (n, (prompt, choices)) in [("The engine", [" runs", " stops", " caches stages"]), ("A stage reads its", [" inputs", " outputs"]),
                                       ("pipe", [" run", " serve", " generate text"])].enumerated() {
            items += JSONValue.object(["prompt": .string(prompt), "choices": .array(choices.map(JSONValue.string)), "answer": .int(Int64(n % 2))]).canonicalJSON + "\n"
        }
        try ws.write("mc.jsonl", items)
        try ws.write("scored.yaml", "version: 1\nname: serve-scores\nstages:\n"
            + Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.9, val: 0.1, test: 0.0}") + """

          train:
            uses: train
            inputs: {tokens: tokenize.tokens}
            with: {model: {layers: 2, heads: 2, dim: 32, context: 64}, batch: 4, steps: 5, warmup: 1}
          evaluate:
            uses: evaluate
            inputs: {model: train.model, tokenizer: tokenize.tokenizer}
            with: {splits: [], tasks: [{name: mc, path: mc.jsonl}]}
            publish: {metrics: out/scored/}

        """)
        XCTAssertEqual(try ws.runStages("scored.yaml")["evaluate"], "ran")
        let served = try ServeProcess.start(in: ws, ["train", "--manifest", "scored.yaml", "--threads", "1"])
        defer { served.kill() }
        let script = Workspace.repository.appendingPathComponent("tests-python/serve_echo_scores.py").path
        let run = try Workspace.execute(TokenizerTests.python, [script, served.baseURL, "out/scored/tasks.jsonl"], in: ws.root)
        XCTAssertEqual(run.status, 0, run.output)
        XCTAssertTrue(run.output.contains("8 choices"), run.output)
    }

    func testFeedbackAboutRecentAnswersBecomesExamples() throws {
        let off = try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(Self.key)", "-d", #"{"id": "x", "rating": 1}"#,
                            server.baseURL + "/v1/feedback"])
        XCTAssertEqual(off, "404", "off without --feedback")

        let served = try ServeProcess.start(in: ws, ["out/model", "-t", "out/tokenizer", "--threads", "1", "--feedback", "feedback.jsonl",
                                                     "--feedback-window", "2"])
        defer { served.kill() }
        func post(_ path: String, _ body: String, headers: [String] = []) throws -> (status: String, body: String) {
            let output = try curl(["-s", "-w", "\n%{http_code}", "-H", "Content-Type: application/json"] + headers.flatMap { ["-H", $0] }
                                  + ["-d", body, served.baseURL + path])
            let status = String(output.split(separator: "\n").last ?? "")
            return (status, String(output.dropLast(status.count + 1)))
        }
        let answer = try post("/v1/completions", #"{"prompt": "The", "max_tokens": 3, "temperature": 0}"#)
        let id = try XCTUnwrap(JSONValue.parse(Data(answer.body.utf8))["id"]?.stringValue)
        XCTAssertEqual(try post("/v1/completions", #"{"prompt": "A stage", "max_tokens": 2}"#, headers: ["X-Request-Id: req-7"]).status, "200")
        XCTAssertEqual(try post("/v1/feedback", #"{"id": "\#(id)", "rating": 1, "correction": " engine runs"}"#).status, "200")
        XCTAssertEqual(try post("/v1/feedback", #"{"id": "req-7", "correction": " reads its inputs"}"#).status, "200")
        let unknown = try post("/v1/feedback", #"{"id": "nope", "rating": 1}"#)
        XCTAssertEqual(unknown.status, "404")
        XCTAssertTrue(unknown.body.contains("unknown_id"), unknown.body)
        XCTAssertEqual(try post("/v1/feedback", #"{"id": "\#(id)"}"#).status, "400", "neither rating nor correction")
        XCTAssertEqual(try post("/v1/feedback", #"{"id": "\#(id)", "rating": "good"}"#).status, "400")
        // A window of 2: a third answer makes the server forget the first.
        XCTAssertEqual(try post("/v1/completions", #"{"prompt": "pipe", "max_tokens": 1}"#).status, "200")
        XCTAssertEqual(try post("/v1/feedback", #"{"id": "\#(id)", "rating": -1}"#).status, "404")

        let lines = try ws.jsonLines("feedback.jsonl")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(lines[0]["id"] as? String, id)
        XCTAssertEqual(lines[0]["prompt"] as? String, "The")
        XCTAssertEqual(lines[0]["correction"] as? String, " engine runs")
        XCTAssertEqual(lines[0]["rating"] as? Double, 1)
        XCTAssertEqual(lines[1]["request_id"] as? String, "req-7")
        XCTAssertEqual(lines[1]["prompt"] as? String, "A stage")

        try ws.write("feedback.yaml", """
        version: 1
        name: feedback
        stages:
          corrections:
            uses: prepare-examples
            with: {train: feedback.jsonl, fields: {completion: correction}, split: {validation: 0.0, test: 0.0}}
            publish: {examples: out/corrections/}
        """)
        XCTAssertEqual(try ws.runStages("feedback.yaml")["corrections"], "ran")
        let examples = try ws.jsonLines("out/corrections/train.jsonl")
        XCTAssertEqual(examples.map { $0["completion"] as? String }, [" engine runs", " reads its inputs"])
    }

    func testRawServerSentEventsWithCurl() throws {
        let body = #"{"prompt": "The", "max_tokens": 3, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}"#
        let out = try curl(["-sN", "-H", "Authorization: Bearer \(Self.key)", "-H", "Content-Type: application/json", "-d", body,
                            server.baseURL + "/v1/completions"])
        let events = out.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertTrue(events.allSatisfy { $0.hasPrefix("data: ") }, out)
        XCTAssertEqual(events.last, "data: [DONE]")
        // Up to three text chunks (a character split across tokens waits for its end), the
        // finish chunk, usage, [DONE].
        XCTAssertTrue((4...6).contains(events.count), out)
        XCTAssertTrue(events[events.count - 3].contains(#""finish_reason":"length""#), out)
        let usage = try JSONSerialization.jsonObject(with: Data(events[events.count - 2].dropFirst(6).utf8)) as! [String: Any]
        XCTAssertEqual((usage["choices"] as! [Any]).count, 0)
        XCTAssertEqual((usage["usage"] as! [String: Any])["completion_tokens"] as? Int, 3)

        let headers = try curl(["-si", "-H", "X-Request-Id: my-id-1", server.baseURL + "/health"])
        XCTAssertTrue(headers.lowercased().contains("x-request-id: my-id-1"), headers)
    }

    func testHostileInputGets4xxAndTheServerStaysUp() throws {
        let url = server.baseURL + "/v1/completions"
        func status(_ extra: [String]) throws -> String {
            try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(Self.key)",
                      "-H", "Content-Type: application/json"] + extra + [url])
        }
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "#]), "400", "malformed JSON")
        XCTAssertEqual(try status(["-d", #"{"prompt": 5}"#]), "400", "wrong type")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "max_tokens": -5}"#]), "400", "negative max_tokens")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "max_tokens": 99999999999999999999}"#]), "400", "huge max_tokens")
        XCTAssertEqual(try status(["-d", #"{"prompt": [999999]}"#]), "400", "token outside the vocabulary")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "max_tokens": "12"}"#]), "400", "a number as a string")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "max_tokens": 1e300}"#]), "400", "a huge float")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "max_tokens": 4096}"#]), "400", "prompt plus max_tokens over the context")
        XCTAssertEqual(try status(["-d", #"{"prompt": "x", "n": 1000000}"#]), "400", "huge n")
        XCTAssertEqual(try status(["-d", "[1, 2]"]), "400", "not an object")
        try ws.write("deep.json", "{\"prompt\": " + String(repeating: "[", count: 200_000) + "]}")
        XCTAssertEqual(try status(["--data-binary", "@" + ws.root.appendingPathComponent("deep.json").path]), "400", "deep nesting")
        let chat = try curl(["-s", "-w", " %{http_code}", "-H", "Authorization: Bearer \(Self.key)", "-d", #"{"messages": "hi"}"#,
                             server.baseURL + "/v1/chat/completions"])
        XCTAssertTrue(chat.hasSuffix(" 400") && chat.contains(#""param":"messages""#) && !chat.contains("chat_template_missing"),
                      "chat: messages of the wrong type, found before the missing template: \(chat)")
        var invalid = Data(#"{"prompt": ""#.utf8)
        invalid.append(contentsOf: [0xC3, 0x28, 0xFF])
        invalid.append(contentsOf: Array(#""}"#.utf8))
        try invalid.write(to: ws.root.appendingPathComponent("invalid.json"))
        XCTAssertEqual(try status(["--data-binary", "@" + ws.root.appendingPathComponent("invalid.json").path]), "400", "invalid UTF-8")
        let big = ws.root.appendingPathComponent("big.json")
        FileManager.default.createFile(atPath: big.path, contents: nil)
        try FileHandle(forWritingTo: big).truncate(atOffset: 100 << 20)
        // 413 at once, without the body held in memory: with curl's `Expect: 100-continue`, sent
        // regardless (`Expect:` off), and chunked (no length declared: cut at the limit).
        let peakBefore = try server.peakResidentBytes()
        for (extra, what) in [([String](), "a 100 MB body"), (["-H", "Expect:"], "a 100 MB body sent without waiting"),
                              (["-H", "Transfer-Encoding: chunked"], "a 100 MB chunked body")] {
            let started = Date()
            XCTAssertEqual(try status(extra + ["--data-binary", "@" + big.path]), "413", what)
            XCTAssertLessThan(Date().timeIntervalSince(started), 5, what)
        }
        XCTAssertLessThan(try server.peakResidentBytes() - peakBefore, 32 << 20, "the 100 MB bodies were not buffered")
        XCTAssertEqual(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", server.baseURL + "/nowhere"]), "401", "no key")
        XCTAssertEqual(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(Self.key)", server.baseURL + "/nowhere"]), "404")
        XCTAssertEqual(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", server.baseURL + "/health"]), "200", "still up")
        let metrics = try curl(["-s", server.baseURL + "/metrics"])
        let serverErrors = metrics.split(separator: "\n").filter { $0.contains("status=\"5") && !$0.contains("endpoint=\"/health\"") }
        XCTAssertEqual(serverErrors, [], "no 5xx but /health's 503 while loading")
        XCTAssertTrue(metrics.contains("pipe_requests_total{endpoint=\"other\",status=\"404\"}"), metrics)
    }

    func testSlowClientsAreCutOffWhileOthersAreServed() throws {
        let guarded = try ServeProcess.start(in: ws, ["out/model", "-t", "out/tokenizer", "--threads", "1",
                                                      "--request-timeout", "2", "--idle-timeout", "2"])
        defer { guarded.kill() }
        let script = Workspace.repository.appendingPathComponent("tests-python/serve_slow_client.py").path
        let run = try Workspace.execute(TokenizerTests.python, [script, "127.0.0.1", String(guarded.port), "30"], in: ws.root)
        XCTAssertEqual(run.status, 0, run.output)
        let result = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any], run.output)
        let head = try XCTUnwrap(result["head"] as? [String: Any]), body = try XCTUnwrap(result["body"] as? [String: Any])
        // A head that never ends: closed by the idle timeout, with nothing to answer.
        XCTAssertEqual(try XCTUnwrap(head["closed_after"] as? Double, run.output), 2, accuracy: 1.5, run.output)
        // A body that trickles: 408 once the request timeout has passed since its head.
        XCTAssertEqual(try XCTUnwrap(body["closed_after"] as? Double, run.output), 2, accuracy: 1.5, run.output)
        XCTAssertEqual(body["status"] as? String, "HTTP/1.1 408 Request Timeout", run.output)
        XCTAssertEqual(result["others"] as? [Int], [200, 200], "served while the slow clients trickled")
        XCTAssertTrue(guarded.process.isRunning)
    }

    func testKeysFromAFileAndTheEnvironmentAndATextLog() throws {
        try ws.write("keys.txt", "alpha\n  beta  \n\n")
        let keyed = try ServeProcess.start(in: ws, ["out/model", "-t", "out/tokenizer", "--threads", "1", "--api-key-file", "keys.txt",
                                                    "--log", "text.jsonl", "--log-text"], environment: ["PIPE_API_KEY": "gamma"])
        defer { keyed.kill() }
        func status(_ key: String?) throws -> String {
            try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}"] + (key.map { ["-H", "Authorization: Bearer \($0)"] } ?? [])
                     + [keyed.baseURL + "/v1/models"])
        }
        for key in ["alpha", "beta", "gamma"] { XCTAssertEqual(try status(key), "200", key) }
        for key in ["alph", "alphaa", "delta", "", Self.key] { XCTAssertEqual(try status(key), "401", "'\(key)'") }
        XCTAssertEqual(try status(nil), "401", "no key")
        XCTAssertEqual(try curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", keyed.baseURL + "/health"]), "200", "/health needs none")

        let answer = try curl(["-s", "-H", "Authorization: Bearer beta", "-H", "Content-Type: application/json", "-d",
                               #"{"prompt": "The engine", "max_tokens": 5, "temperature": 0}"#, keyed.baseURL + "/v1/completions"])
        let choices = try XCTUnwrap((JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])?["choices"] as? [[String: Any]], answer)
        let line = try XCTUnwrap(try ws.jsonLines("text.jsonl").last)
        XCTAssertEqual(line["prompt"] as? String, "The engine")
        XCTAssertEqual(line["completion"] as? String, try XCTUnwrap(choices.first?["text"] as? String))
        XCTAssertEqual(line["completion_tokens"] as? Int, 5)
    }

    /// `serve --manifest M STAGE` follows the stage's runs: a new run's model is swapped in
    /// while a long stream started on the old one runs to its end and other requests keep
    /// getting answers; the old model retires once its stream is done.
    /// `./copy-model`: a plugin stage publishing a model folder and a tokenizer folder.
    private func writeCopyModelPlugin() throws {
        try ws.write("copy-model/stage.yaml", """
        name: copy-model
        version: 1
        description: Publishes a model folder and a tokenizer folder of the workspace.
        run: [sh, run.sh]
        outputs:
          model: {kind: model}
          tokenizer: {kind: tokenizer}
        params:
          model: {type: string, doc: "model folder (absolute)"}
          tokenizer: {type: string, doc: "tokenizer folder (absolute)"}
        external: [model, tokenizer]
        """)
        try ws.write("copy-model/run.sh", "set -eu\ncp -R \"$PIPE_PARAM_MODEL\"/. \"$PIPE_OUTPUT_MODEL\"/\ncp -R \"$PIPE_PARAM_TOKENIZER\"/. \"$PIPE_OUTPUT_TOKENIZER\"/\n")
    }

    /// The log-probabilities of a prompt's tokens: they tell models apart where greedy text may not.
    private func promptScores(_ base: String) throws -> [Double] {
        let answer = try curl(["-s", "-H", "Authorization: Bearer \(Self.key)", "-d",
                               #"{"prompt": "The engine runs", "max_tokens": 0, "echo": true, "logprobs": 0}"#, base + "/v1/completions"])
        let choices = (try JSONSerialization.jsonObject(with: Data(answer.utf8)) as? [String: Any])?["choices"] as? [[String: Any]]
        let logprobs = (choices?.first?["logprobs"] as? [String: Any])?["token_logprobs"] as? [Any]
        return try XCTUnwrap(logprobs?.dropFirst().map { $0 as! Double }, answer)
    }

    /// Two models' prompt scores are the same model's: equal up to the float rounding that the
    /// rows batched with them at that step may change.
    private func assertSameModel(_ a: [Double], _ b: [Double], _ message: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, message, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4, message, line: line) }
    }

    func testAServedAliasFollowsPromotionsAndARollback() throws {
        try Self.writeRandomModel(in: ws, to: "out/model-b", seed: 12)
        try writeCopyModelPlugin()
        try ws.write("verdict/stage.yaml", """
        name: verdict
        version: 1
        description: A decision.json saying whether to promote.
        run: [sh, run.sh]
        outputs:
          decision: {kind: metrics}
        params:
          promote: {type: bool, doc: "the verdict"}
        """)
        try ws.write("verdict/run.sh", "set -eu\nprintf '{\"promote\": %s, \"reasons\": [\"the test says %s\"]}' \"$PIPE_PARAM_PROMOTE\" \"$PIPE_PARAM_PROMOTE\" > \"$PIPE_OUTPUT_DECISION/decision.json\"\n")
        let tokenizer = ws.root.appendingPathComponent("out/tokenizer").path
        try ws.write("alias.yaml", """
        version: 1
        name: alias
        stages:
          a:
            uses: ./copy-model
            with: {model: "\(ws.root.appendingPathComponent("out/model").path)", tokenizer: "\(tokenizer)"}
          b:
            uses: ./copy-model
            with: {model: "\(ws.root.appendingPathComponent("out/model-b").path)", tokenizer: "\(tokenizer)"}
          yes:
            uses: ./verdict
            with: {promote: true}
          no:
            uses: ./verdict
            with: {promote: false}
          promote_a:
            uses: promote
            inputs: {model: a.model, tokenizer: a.tokenizer}
            with: {alias: current}
          promote_b:
            uses: promote
            inputs: {model: b.model, tokenizer: b.tokenizer, decision: yes.decision}
            with: {alias: current}
          refuse_a:
            uses: promote
            inputs: {model: a.model, tokenizer: a.tokenizer, decision: no.decision}
            with: {alias: current}
        """)
        XCTAssertEqual(try ws.runStages("alias.yaml", ["promote_a"])["promote_a"], "ran")
        let served = try ServeProcess.start(in: ws, ["--alias", "current", "--reload-interval", "0.2", "--threads", "1", "--slots", "2"])
        defer { served.kill() }
        let first = try promptScores(served.baseURL)
        assertSameModel(first, try promptScores(server.baseURL), "the alias names out/model")
        let asker = Asker(url: served.baseURL + "/v1/completions")
        asker.start()
        func waitForReloads(_ count: Double) throws {
            let started = Date()
            while try metric("pipe_model_reloads_total", at: served) < count, Date().timeIntervalSince(started) < 60 { usleep(50_000) }
            XCTAssertEqual(try metric("pipe_model_reloads_total", at: served), count)
        }

        XCTAssertEqual(try ws.runStages("alias.yaml", ["promote_b"])["promote_b"], "ran")
        try waitForReloads(1)
        let second = try promptScores(served.baseURL)
        XCTAssertNotEqual(second, first, "promoted: the server answers with model b")

        let refused = try ws.run(["run", "alias.yaml", "refuse_a"])
        XCTAssertEqual(refused.status, 0, refused.stderr)
        XCTAssertTrue(refused.stdout.contains("not promoted: the test says false") || refused.stderr.contains("not promoted: the test says false"),
                      refused.stdout + refused.stderr)
        var record = try XCTUnwrap(try ModelAlias.read("current", registry: ws.root.appendingPathComponent("models")))
        XCTAssertEqual(record.history.count, 1)
        XCTAssertEqual(record.current.reasons, ["the test says true"])

        let rollback = try ws.run(["promote", "current", "--rollback"])
        XCTAssertEqual(rollback.status, 0, rollback.stderr)
        XCTAssertTrue(rollback.stdout.contains("rolled back to model \(record.history[0].model)"), rollback.stdout)
        try waitForReloads(2)
        assertSameModel(try promptScores(served.baseURL), first, "rolled back: model a again")
        record = try XCTUnwrap(try ModelAlias.read("current", registry: ws.root.appendingPathComponent("models")))
        XCTAssertEqual(record.rolledBack.count, 1)
        XCTAssertTrue(record.history.isEmpty)
        let again = try ws.run(["promote", "current", "--rollback"])
        XCTAssertEqual(again.status, 2)
        XCTAssertTrue(again.stderr.contains("no earlier promotion"), again.stderr)

        let answered = asker.stop()
        XCTAssertGreaterThan(answered.count, 0)
        XCTAssertEqual(Set(answered), ["200"], "every request answered across promotion and rollback: \(answered)")
    }

    /// The maintenance loop: a base model in service under an alias, fresh text of another
    /// domain, a challenger trained on it and a "worse" one (one step at a tiny learning rate);
    /// `compare` against the base on old and fresh held-out tokens decides, `promote` follows.
    func testTheMaintenanceLoopPromotesABetterChallengerOnly() throws {
        let fresh = ws.root.appendingPathComponent("fresh")
        if !FileManager.default.fileExists(atPath: fresh.path) {
            try FileManager.default.copyItem(at: Workspace.repository.appendingPathComponent("Sources/Transformer"), to: fresh)
        }
        let small = "model: {layers: 2, heads: 2, dim: 32, context: 64}, batch: 8, warmup: 2, eval_every: 1000, eval_tokens: 1024"
        try ws.write("loop.yaml", "version: 1\nname: loop\nstages:\n"
            + Workspace.docsTokenizeStages(vocab: 300, splits: "{train: 0.9, val: 0.1, test: 0.0}").replacingOccurrences(of: "test: 0.0", with: "test: 0.0") + """

          old_tokens:
            uses: bpe-tokenize
            inputs: {documents: text.documents, tokenizer: tokenize.tokenizer}
            with: {split_by: tokens, splits: {train: 0.8, val: 0.1, test: 0.1}}
          base:
            uses: train
            inputs: {tokens: old_tokens.tokens}
            with: {\(small), steps: 60, lr: 3.0e-3}
          fresh_text:
            uses: collect
            with: {sources: [{path: fresh, include: ["**/*.swift"], format: text}]}
          fresh_tokens:
            uses: bpe-tokenize
            inputs: {documents: fresh_text.documents, tokenizer: tokenize.tokenizer}
            with: {split_by: tokens, splits: {train: 0.8, val: 0.1, test: 0.1}}
          challenger:
            uses: train
            inputs: {tokens: fresh_tokens.tokens, init_from: base.model}
            with: {\(small), steps: 60, lr: 3.0e-3}
          worse:
            uses: train
            inputs: {tokens: fresh_tokens.tokens, init_from: base.model}
            with: {\(small), steps: 1, lr: 1.0e-9}
          judge:
            uses: compare
            inputs: {champion: base.model, challenger: challenger.model, tokenizer: tokenize.tokenizer, old: old_tokens.tokens, fresh: fresh_tokens.tokens}
            with: {max_old_loss: 1.0, resamples: 300, max_tokens: 4096}
          judge_worse:
            uses: compare
            inputs: {champion: base.model, challenger: worse.model, tokenizer: tokenize.tokenizer, old: old_tokens.tokens, fresh: fresh_tokens.tokens}
            with: {max_old_loss: 1.0, resamples: 300, max_tokens: 4096}
          serve_base:
            uses: promote
            inputs: {model: base.model, tokenizer: tokenize.tokenizer}
            with: {alias: loop}
          promote_worse:
            uses: promote
            inputs: {model: worse.model, tokenizer: tokenize.tokenizer, decision: judge_worse.decision}
            with: {alias: loop}
          promote_challenger:
            uses: promote
            inputs: {model: challenger.model, tokenizer: tokenize.tokenizer, decision: judge.decision}
            with: {alias: loop}
            publish: {promotion: out/loop-promotion/}

        """)
        XCTAssertEqual(try ws.runStages("loop.yaml", ["serve_base"])["serve_base"], "ran")
        let served = try ServeProcess.start(in: ws, ["--alias", "loop", "--reload-interval", "0.2", "--threads", "1", "--slots", "2"])
        defer { served.kill() }
        let base = try promptScores(served.baseURL)
        let asker = Asker(url: served.baseURL + "/v1/completions")
        asker.start()

        let statuses = try ws.runStages("loop.yaml", ["promote_worse"])
        XCTAssertEqual(statuses["promote_worse"], "ran")
        var record = try XCTUnwrap(try ModelAlias.read("loop", registry: ws.root.appendingPathComponent("models")))
        XCTAssertTrue(record.history.isEmpty, "the worse challenger was not promoted: \(record)")

        XCTAssertEqual(try ws.runStages("loop.yaml", ["promote_challenger"])["promote_challenger"], "ran")
        let promotion = try JSONValue.parse(Data(contentsOf: ws.root.appendingPathComponent("out/loop-promotion/promotion.json")))
        XCTAssertEqual(promotion["promoted"]?.boolValue, true, promotion.canonicalJSON)
        XCTAssertTrue(promotion["reasons"]?.arrayValue?.first?.stringValue?.contains("fresh: challenger") == true, promotion.canonicalJSON)
        let started = Date()
        while try metric("pipe_model_reloads_total", at: served) < 1, Date().timeIntervalSince(started) < 60 { usleep(50_000) }
        XCTAssertNotEqual(try promptScores(served.baseURL), base, "the server answers with the challenger")

        XCTAssertEqual(try ws.run(["promote", "loop", "--rollback"]).status, 0)
        while try metric("pipe_model_reloads_total", at: served) < 2, Date().timeIntervalSince(started) < 60 { usleep(50_000) }
        assertSameModel(try promptScores(served.baseURL), base, "rolled back to the base model")
        record = try XCTUnwrap(try ModelAlias.read("loop", registry: ws.root.appendingPathComponent("models")))
        XCTAssertEqual(record.rolledBack.count, 1)
        let answered = asker.stop()
        XCTAssertEqual(Set(answered), ["200"], "every request answered through the loop: \(answered)")
    }

    func testAStageServedFromAManifestIsReloadedWithoutDroppingRequests() throws {
        try Self.writeRandomModel(in: ws, to: "out/model-b", seed: 12)
        let source = ws.root.appendingPathComponent("reload-source")
        try? FileManager.default.removeItem(at: source)
        try FileManager.default.copyItem(at: ws.root.appendingPathComponent("out/model"), to: source)
        try writeCopyModelPlugin()
        try ws.write("reload.yaml", """
        version: 1
        name: reload
        stages:
          publish:
            uses: ./copy-model
            with: {model: "\(source.path)", tokenizer: "\(ws.root.appendingPathComponent("out/tokenizer").path)"}
        """)
        XCTAssertEqual(try ws.runStages("reload.yaml")["publish"], "ran")
        let served = try ServeProcess.start(in: ws, ["publish", "--manifest", "reload.yaml", "--reload-interval", "0.2", "--threads", "1",
                                                     "--slots", "2"])
        defer { served.kill() }
        let before = try promptScores(served.baseURL)
        assertSameModel(before, try promptScores(server.baseURL), "the stage's model is out/model")
        XCTAssertGreaterThan(before.count, 1)

        // A long stream on the old model, and a client asking again and again meanwhile.
        let stream = Process()
        stream.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        stream.arguments = ["curl", "-sN", "-d", #"{"prompt": "The", "max_tokens": 4000, "temperature": 0, "stream": true, "stream_options": {"include_usage": true}}"#,
                            served.baseURL + "/v1/completions"]
        let out = Pipe()
        stream.standardOutput = out
        try stream.run()
        let first = Self.firstEvent(out)
        XCTAssertTrue(first.hasPrefix("data: "), first)
        let asker = Asker(url: served.baseURL + "/v1/completions")
        asker.start()

        try FileManager.default.removeItem(at: source)
        try FileManager.default.copyItem(at: ws.root.appendingPathComponent("out/model-b"), to: source)
        XCTAssertEqual(try ws.runStages("reload.yaml")["publish"], "ran")
        let ran = Date()
        while try metric("pipe_model_reloads_total", at: served) < 1, Date().timeIntervalSince(ran) < 60 { usleep(50_000) }
        XCTAssertEqual(try metric("pipe_model_reloads_total", at: served), 1)
        XCTAssertEqual(try metric("pipe_retiring_models", at: served), 1, "the old model still runs the stream")
        let after = try promptScores(served.baseURL)
        XCTAssertNotEqual(after, before, "new requests get the new model")
        let answered = asker.stop()

        let text = first + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        stream.waitUntilExit()
        XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"), "the stream ran to its end: \(text.suffix(300))")
        XCTAssertTrue(text.contains(#""completion_tokens":4000"#), text.suffix(300).description)
        let done = Date()
        while try metric("pipe_retiring_models", at: served) != 0, Date().timeIntervalSince(done) < 5 { usleep(20_000) }
        XCTAssertEqual(try metric("pipe_retiring_models", at: served), 0, "the old model retired once its stream ended")
        XCTAssertGreaterThan(answered.count, 0)
        XCTAssertEqual(Set(answered), ["200"], "every request answered during the reload: \(answered)")
        assertSameModel(try promptScores(served.baseURL), after, "still the new model")

        // A run whose model does not load: reported, and the current model stays.
        try FileManager.default.removeItem(at: source)
        try FileManager.default.copyItem(at: ws.root.appendingPathComponent("out/model"), to: source)
        try Data("{".utf8).write(to: source.appendingPathComponent("config.json"))
        XCTAssertEqual(try ws.runStages("reload.yaml")["publish"], "ran")
        let broken = Date()
        while !(try String(contentsOf: served.log, encoding: .utf8)).contains("reload: "), Date().timeIntervalSince(broken) < 30 { usleep(50_000) }
        let stderr = try String(contentsOf: served.log, encoding: .utf8)
        XCTAssertTrue(stderr.contains("still serving the previous model"), stderr)
        XCTAssertEqual(try metric("pipe_model_reloads_total", at: served), 1)
        assertSameModel(try promptScores(served.baseURL), after, "still the new model")
    }

    func testAClientKilledMidStreamReturnsItsSlotWithinASecond() throws {
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["curl", "-sN", "-H", "Authorization: Bearer \(Self.key)", "-H", "Content-Type: application/json", "-d",
                            #"{"prompt": "The", "max_tokens": 3000, "stream": true}"#, server.baseURL + "/v1/completions"]
        let out = Pipe()
        client.standardOutput = out
        let generatedBefore = try metric("pipe_generated_tokens_total")
        try client.run()
        XCTAssertTrue(Self.firstEvent(out).hasPrefix("data: "))
        XCTAssertEqual(try metric("pipe_active_slots"), 1)
        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        let killed = Date()
        while try metric("pipe_active_slots") != 0, Date().timeIntervalSince(killed) < 1 { usleep(20_000) }
        XCTAssertEqual(try metric("pipe_active_slots"), 0, "the slot is free within a second")
        XCTAssertLessThan(try metric("pipe_generated_tokens_total") - generatedBefore, 3000, "cancelled, not run to the end")
    }

    func testChatWithATemplateAndADrainingShutdown() throws {
        let folder = ws.root.appendingPathComponent("chat-tokenizer")
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.copyItem(at: ws.root.appendingPathComponent("out/tokenizer"), to: folder)
        try ws.write("chat-tokenizer/tokenizer_config.json", """
        {"pipe_chat_template": {"system": "System: {content}\\n", "user": "User: {content}\\n", "assistant": "Assistant: {content}\\n", "generation_prompt": "Assistant:"}}
        """)
        let chat = try ServeProcess.start(in: ws, ["out/model", "-t", "chat-tokenizer", "--threads", "1", "--drain-timeout", "60",
                                                   "--slots", "1", "--max-queue", "0"])
        defer { chat.kill() }
        let script = Workspace.repository.appendingPathComponent("tests-python/serve_chat_client.py").path
        let run = try Workspace.execute(TokenizerTests.python, [script, chat.baseURL + "/v1"], in: ws.root)
        XCTAssertEqual(run.status, 0, run.output)

        // With its one slot busy and no queue, a second request gets 503 with Retry-After.
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        client.arguments = ["curl", "-sN", "-H", "Content-Type: application/json", "-d",
                            #"{"prompt": "The", "max_tokens": 1000, "stream": true}"#, chat.baseURL + "/v1/completions"]
        let out = Pipe()
        client.standardOutput = out
        try client.run()
        let first = Self.firstEvent(out)
        XCTAssertTrue(first.hasPrefix("data: "))
        let busy = try curl(["-si", "-H", "Content-Type: application/json", "-d", #"{"prompt": "The", "max_tokens": 2}"#,
                             chat.baseURL + "/v1/completions"])
        XCTAssertTrue(busy.hasPrefix("HTTP/1.1 503") && busy.lowercased().contains("retry-after: 1"), busy)

        // SIGTERM while the stream runs: it completes, then the server exits 0.
        XCTAssertEqual(chat.terminate(), 0)
        let text = first + String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        XCTAssertTrue(text.hasSuffix("data: [DONE]\n\n"), "the running stream finished: \(text.suffix(300))")
        XCTAssertEqual(text.components(separatedBy: "\"finish_reason\":\"length\"").count, 2, text.suffix(300).description)
    }

    /// What a streaming client has read once its first event is complete (or its output ended).
    private static func firstEvent(_ pipe: Pipe) -> String {
        var data = Data()
        while !String(decoding: data, as: UTF8.self).contains("\n\n") {
            let more = pipe.fileHandleForReading.availableData
            if more.isEmpty { break }
            data += more
        }
        return String(decoding: data, as: UTF8.self)
    }

    private func metric(_ name: String, at process: ServeProcess? = nil) throws -> Double {
        let text = try curl(["-s", (process ?? server).baseURL + "/metrics"])
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + " ") }), let value = Double(line.split(separator: " ")[1]) else {
            throw NSError(domain: "metrics", code: 1, userInfo: [NSLocalizedDescriptionKey: "no \(name) in \(text)"])
        }
        return value
    }

    private func curl(_ arguments: [String]) throws -> String {
        let result = try Workspace.execute("/usr/bin/env", ["curl"] + arguments, in: ws.root)
        return result.output
    }
}

/// A client asking for a short completion again and again on a thread of its own, until
/// `stop`, which returns the HTTP status of every answer (or why curl failed).
private final class Asker: Sendable {
    private let url: String
    private let asking = Atomic(true)
    private let statuses = Mutex<[String]>([])
    private let finished = DispatchSemaphore(value: 0)

    init(url: String) { self.url = url }

    func start() {
        Thread.detachNewThread { [self] in
            while asking.load(ordering: .relaxed) {
                let status: String
                do {
                    status = try Workspace.execute("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d",
                                                                    #"{"prompt": "The", "max_tokens": 2}"#, url],
                                                   in: URL(fileURLWithPath: "/")).output
                } catch {
                    status = "curl failed: \(error)"
                }
                statuses.withLock { $0.append(status) }
            }
            finished.signal()
        }
    }

    func stop() -> [String] {
        asking.store(false, ordering: .relaxed)
        finished.wait()
        return statuses.withLock { $0 }
    }
}

/// A `pipe serve` started on a free port of 127.0.0.1, stopped by its process id.
final class ServeProcess {
    let process: Process
    let port: Int
    /// Where its standard error goes.
    let log: URL
    var baseURL: String { "http://127.0.0.1:\(port)" }

    private init(process: Process, port: Int, log: URL) {
        self.process = process
        self.port = port
        self.log = log
    }

    /// Starts `pipe serve ARGUMENTS --port 0` (with `environment` added to the test's), reads the bound port from its standard error and
    /// waits for `/health` to answer 200.
    static func start(in ws: Workspace, _ arguments: [String], environment: [String: String] = [:]) throws -> ServeProcess {
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = ["serve"] + arguments + ["--port", "0"]
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        process.currentDirectoryURL = ws.root
        let log = ws.root.appendingPathComponent("serve-\(UUID().uuidString).stderr")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        var port: Int?
        while port == nil, Date() < deadline, process.isRunning {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            if let range = text.range(of: "listening on http://127.0.0.1:") {
                port = Int(text[range.upperBound...].prefix { $0.isNumber })
            } else {
                usleep(50_000)
            }
        }
        guard let port else {
            if process.isRunning { Foundation.kill(process.processIdentifier, SIGKILL) }
            throw NSError(domain: "serve", code: 1, userInfo: [NSLocalizedDescriptionKey: "no port: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")"])
        }
        let server = ServeProcess(process: process, port: port, log: log)
        while Date() < deadline {
            let health = try Workspace.execute("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", server.baseURL + "/health"], in: ws.root)
            if health.output == "200" { return server }
            usleep(100_000)
        }
        server.kill()
        throw NSError(domain: "serve", code: 2, userInfo: [NSLocalizedDescriptionKey: "the model never loaded"])
    }

    /// SIGTERM, then the exit status.
    func terminate() -> Int32 {
        Foundation.kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The server's peak resident set so far (VmHWM), in bytes.
    func peakResidentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) else {
            throw NSError(domain: "serve", code: 3, userInfo: [NSLocalizedDescriptionKey: "no VmHWM in \(status)"])
        }
        return kilobytes << 10
    }

    func kill() {
        guard process.isRunning else { return }
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
