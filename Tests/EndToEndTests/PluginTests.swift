import Foundation
import XCTest

/// External plugins: failures, timeouts, empty outputs, code and environment changes, and a
/// pipeline mixing built-in stages with Python and shell plugins.
final class PluginTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws {
        ws = try Workspace()
        try ws.write("corpus/a.txt", "Alpha Beta\n")
        try ws.write("corpus/b.txt", "Gamma Delta Epsilon\n")
    }

    override func tearDown() { ws.remove() }

    func testMixedPipelineOfBuiltinPythonAndShellStagesRunsAndRerunsOnlyWhatChanged() throws {
        try ws.write("p.yaml", """
        version: 1
        name: mixed
        stages:
          objective:
            uses: objective
            with: {languages: [en], targets: {test.perplexity: {max: 60}}}
          source:
            uses: ./stages/examples/read-text
            with: {path: corpus}
          lower:
            uses: ./stages/examples/lowercase
            inputs: {documents: source.documents}
          first:
            uses: ./stages/examples/head
            inputs: {documents: lower.documents}
            with: {count: 1}
          stats:
            uses: ./stages/examples/stats
            inputs: {documents: first.documents}

        """)
        XCTAssertEqual(Set(try ws.runStages("p.yaml").values), ["ran"])

        // Editing the Python plugin's code makes it and (since its output changes) its dependents stale.
        let main = try ws.read("stages/examples/lowercase/main.py")
        try ws.write("stages/examples/lowercase/main.py", main.replacingOccurrences(of: "doc[\"text\"].lower()", with: "doc[\"text\"].upper()"))
        let status = try ws.run(["status", "p.yaml"])
        XCTAssertTrue(status.stdout.contains("stage code changed"), status.stdout)
        XCTAssertEqual(try ws.runStages("p.yaml"),
                       ["objective": "cached", "source": "cached", "lower": "ran", "first": "ran", "stats": "ran"])

        // Changing the shell plugin's parameter reruns it alone when its output is unchanged downstream.
        XCTAssertEqual(try ws.runStages("p.yaml", ["--force", "first"]),
                       ["objective": "cached", "source": "cached", "lower": "cached", "first": "ran", "stats": "cached"])
    }

    func testFailingPluginShowsItsLogTailAndCachesNothing() throws {
        try ws.writeShellPlugin("broken", script: "echo working on it\necho 'disk full' >&2\nexit 3\n")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  b:\n    uses: ./stages/broken\n  after:\n    uses: ./stages/examples/head\n    inputs: {documents: b.documents}\n")
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("plugin 'broken' exited with status 3"), output.stderr)
        XCTAssertTrue(output.stderr.contains("| working on it") && output.stderr.contains("| disk full"), output.stderr)
        XCTAssertTrue(output.stderr.contains("after  skipped: b did not succeed"), output.stderr)
        let runs = (try? FileManager.default.contentsOfDirectory(atPath: ws.root.appendingPathComponent("cache/runs").path)) ?? []
        XCTAssertTrue(runs.filter { $0.hasSuffix(".json") }.isEmpty)
    }

    func testIntermediateMetricsAreShownAndKeptAsTheStagesCurve() throws {
        try ws.writeShellPlugin("learner", script: """
        for step in 10 20 30; do echo "::metric val.loss $((40 - step)).5 step=$step"; done
        echo '::metric val.loss 1 step=-1'
        echo '{"id": "a", "text": "done"}' > "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"
        echo '::metric val.loss 10.5'

        """)
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  l:\n    uses: ./stages/learner\n")
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertTrue(output.stderr.contains("l  val.loss 30.5 at step 10") && output.stderr.contains("l  val.loss 10.5 at step 30"),
                      output.stderr)
        let record = try XCTUnwrap(try ws.runRecords(of: "l").first)
        let curve = try XCTUnwrap((record["curves"] as? [String: Any])?["val.loss"] as? [[String: Any]])
        XCTAssertEqual(curve.map { $0["step"] as? Int }, [10, 20, 30], "a negative step is a log line, not a point")
        XCTAssertEqual(curve.map { $0["value"] as? Double }, [30.5, 20.5, 10.5])
        XCTAssertEqual((record["metrics"] as? [String: Double])?["val.loss"], 10.5, "the final value stays a metric")
    }

    func testEmptyDeclaredOutputFails() throws {
        try ws.writeShellPlugin("lazy", script: "echo did nothing\n")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  l:\n    uses: ./stages/lazy\n")
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("stage 'l' left its output 'documents' empty"), output.stderr)
    }

    func testTimeoutStopsThePluginAndItsChildren() throws {
        try ws.writeShellPlugin("slow", script: "sleep 30 &\nsleep 30\n")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  s:\n    uses: ./stages/slow\n    timeout: 1s\n")
        let started = Date()
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        XCTAssertTrue(output.stderr.contains("exceeded its timeout of 1 s"), output.stderr)
    }

    func testEnvironmentProbeChangeMakesThePluginStale() throws {
        try ws.writeShellPlugin("probed", script: "echo '{\"id\":\"1\",\"text\":\"x\"}' > \"$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl\"\n",
                   extra: "probes:\n  - [sh, -c, 'echo \"$TOOL_VERSION\"']\n")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  p:\n    uses: ./stages/probed\n")
        XCTAssertEqual(try ws.run(["run", "p.yaml"], environment: ["TOOL_VERSION": "1.0"]).status, 0)
        let same = try ws.run(["run", "p.yaml", "--json"], environment: ["TOOL_VERSION": "1.0"])
        XCTAssertTrue(same.stdout.contains("\"cached\""), same.stdout)
        let status = try ws.run(["status", "p.yaml"], environment: ["TOOL_VERSION": "2.0"])
        XCTAssertTrue(status.stdout.contains("environment changed (sh -c echo \"$TOOL_VERSION\")"), status.stdout)
    }

    func testRequestAndEnvironmentCarryParametersAndPaths() throws {
        try ws.write("stages/echo/stage.yaml", """
        name: echo
        version: 1
        run: [python3, main.py]
        outputs:
          documents: {kind: documents}
        params:
          word: {type: string}
          times: {type: int, default: 2}
          ratio: {type: float, default: 0.5}

        """)
        try ws.write("stages/echo/main.py", """
        import json, os
        r = json.load(open(os.environ["PIPE_REQUEST"]))
        assert r["params"] == {"word": "hi", "times": 3, "ratio": 0.5}, r["params"]
        assert os.environ["PIPE_PARAM_TIMES"] == "3" and os.environ["PIPE_PARAM_WORD"] == "hi"
        assert os.environ["PIPE_OUTPUT_DOCUMENTS"] == r["outputs"]["documents"]
        assert int(os.environ["PIPE_THREADS"]) >= 1 and os.path.isdir(r["scratch"]) and os.path.isdir(r["work"])
        with open(os.path.join(r["outputs"]["documents"], "part-00000.jsonl"), "w") as f:
            f.write(json.dumps({"id": "0", "text": r["params"]["word"] * r["params"]["times"]}) + "\\n")
        print("::progress 1.0 done")
        print("::metric echo.length", 6)

        """)
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  e:\n    uses: ./stages/echo\n    with: {word: hi, times: 3}\n    publish: {documents: out/echo.jsonl}\n")
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 0, output.stderr)
        XCTAssertEqual(try ws.read("out/echo.jsonl"), "{\"id\": \"0\", \"text\": \"hihihi\"}\n")
        let show = try ws.run(["show", "p.yaml", "e", "--json"])
        XCTAssertEqual(((show.json as? [String: Any])?["metrics"] as? [String: Double])?["echo.length"], 6)
    }

    func testInputsAreMaterializedReadOnly() throws {
        try ws.writeShellPlugin("modes", script: """
        stat -c '%a' "$PIPE_INPUT_DOCUMENTS" "$PIPE_INPUT_DOCUMENTS/part-00000.jsonl" | tr '\\n' ' ' > "$PIPE_OUTPUT_DOCUMENTS/modes"

        """, extra: "inputs:\n  documents: {kind: documents}\n")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  s:\n    uses: ./stages/examples/read-text\n    with: {path: corpus}\n"
            + "  m:\n    uses: ./stages/modes\n    inputs: {documents: s.documents}\n    publish: {documents: out/modes}\n")
        XCTAssertEqual(try ws.run(["run", "p.yaml"]).status, 0)
        XCTAssertEqual(try ws.read("out/modes"), "555 444 ")
    }

    func testSymlinkOutsideThePluginFolderIsRefused() throws {
        try ws.writeShellPlugin("linked", script: "exit 0\n")
        try FileManager.default.createSymbolicLink(atPath: ws.root.appendingPathComponent("stages/linked/secret").path,
                                                   withDestinationPath: "/etc/hostname")
        try ws.write("p.yaml", "version: 1\nname: f\nstages:\n  l:\n    uses: ./stages/linked\n")
        let output = try ws.run(["run", "p.yaml"])
        XCTAssertEqual(output.status, 2)
        XCTAssertTrue(output.stderr.contains("'secret' is a symlink to '/etc/hostname', outside the plugin folder"), output.stderr)
    }
}

/// `pipe new-stage` scaffolds plugins that work as generated, in all three languages.
final class NewStageTests: XCTestCase {
    func testScaffoldedPluginsRunInAPipeline() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write("corpus/a.txt", "tiny\n")
        try ws.write("corpus/b.txt", "a much longer document about more things\n")
        for lang in ["python", "shell", "swift"] {
            let made = try ws.run(["new-stage", "my-\(lang)", "--lang", lang])
            XCTAssertEqual(made.status, 0, made.stderr)
            XCTAssertTrue(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("stages/my-\(lang)/README.md").path))
        }
        XCTAssertEqual(try ws.run(["new-stage", "my-python"]).status, 2, "an existing folder is never overwritten")
        try ws.write("p.yaml", """
        version: 1
        name: scaffolds
        stages:
          source:
            uses: ./stages/examples/read-text
            with: {path: corpus}
          py:
            uses: ./stages/my-python
            inputs: {documents: source.documents}
            with: {min_chars: 10}
          sh:
            uses: ./stages/my-shell
            inputs: {documents: source.documents}
            with: {pattern: "tiny"}
          sw:
            uses: ./stages/my-swift
            inputs: {documents: source.documents}
            with: {min_chars: 10}

        """)
        let output = try ws.run(["run", "p.yaml", "--json"])
        XCTAssertEqual(output.status, 0, output.stdout + output.stderr)
        func metrics(_ stage: String) throws -> [String: Double] {
            let show = try ws.run(["show", "p.yaml", stage, "--json"])
            return ((show.json as? [String: Any])?["metrics"] as? [String: Double]) ?? [:]
        }
        XCTAssertEqual(try metrics("py")["documents.kept"], 1)
        XCTAssertEqual(try metrics("sh")["documents.kept"], 1)
        XCTAssertEqual(try metrics("sw")["documents.kept"], 1)
        let listing = try ws.run(["stages"])
        XCTAssertTrue(listing.stdout.contains("my-swift  plugin ./stages/my-swift"), listing.stdout)
    }
}
