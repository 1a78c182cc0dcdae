import Foundation
import XCTest

/// Every malformed manifest is refused with exit code 2, an exact message at file:line:column,
/// and nothing written.
final class MalformedManifestTests: XCTestCase {
    static let header = "version: 1\nname: bad\n"
    static let source = "  a:\n    uses: ./stages/examples/read-text\n    with: {path: x}\n"

    /// (name, manifest text, expected standard error)
    static let cases: [(String, String, String)] = [
        ("unknown-kind", header + "stages:\n" + source + "  b:\n    uses: colect\n",
         "m.yaml:8:11: error: unknown stage kind 'colect'; did you mean 'collect'?"),
        ("unknown-param", header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n    with: {path: x, includ: []}\n",
         "m.yaml:6:21: error: unknown parameter 'includ' for stage 'a' (read-text); did you mean 'include'?"),
        ("wrong-type", header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n    with: {path: x, shard_bytes: lots}\n",
         "m.yaml:6:34: error: parameter 'shard_bytes' must be an int, not string (\"lots\")"),
        ("missing-required", header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n",
         "m.yaml:4:3: error: missing required parameter 'path' for stage 'a' (read-text)"),
        ("unknown-stage-ref", header + "stages:\n" + source + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: sourc.documents}\n",
         "m.yaml:9:25: error: input 'documents' names unknown stage 'sourc'"),
        ("unknown-output", header + "stages:\n" + source + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: a.document}\n",
         "m.yaml:9:25: error: stage 'a' (read-text) has no output 'document'; did you mean 'documents'? (outputs: documents)"),
        ("wrong-kind", header + "stages:\n" + source + "  s:\n    uses: ./stages/examples/stats\n    inputs: {documents: a.documents}\n"
            + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: s.metrics}\n",
         "m.yaml:12:25: error: input 'documents' of stage 'b' takes documents, but s.metrics is metrics"),
        ("cycle", header + "stages:\n  a:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: c.documents}\n"
            + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: a.documents}\n"
            + "  c:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: b.documents}\n",
         "m.yaml:4:3: error: dependency cycle: a -> c -> b -> a"),
        ("duplicate-stage", header + "stages:\n" + source + source,
         "m.yaml:7:3: error: duplicate key 'a' (first defined at 4:3)"),
        ("publish-outside", header + "stages:\n" + source + "    publish: {documents: ../../etc/x}\n",
         "m.yaml:7:26: error: publish path '../../etc/x' is outside the workspace"),
        ("publish-unknown-output", header + "stages:\n" + source + "    publish: {docs: out/x}\n",
         "m.yaml:7:15: error: stage 'a' has no output 'docs' to publish; did you mean 'documents'?"),
        ("missing-input", header + "stages:\n  b:\n    uses: ./stages/examples/lowercase\n",
         "m.yaml:4:3: error: stage 'b' (lowercase) needs input 'documents' (documents)"),
        ("unknown-input-port", header + "stages:\n" + source + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: a.documents, docs: a.documents}\n",
         "m.yaml:9:38: error: stage 'b' (lowercase) has no input 'docs'; did you mean 'documents'?"),
        ("unknown-field", header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n    with: {path: x}\n    neds: [a]\n",
         "m.yaml:7:5: error: unknown field 'neds' in stage 'a'; did you mean 'needs'?"),
        ("bad-version", "version: 2\nname: bad\nstages:\n" + source,
         "m.yaml:1:10: error: unsupported manifest version 2; this pipe reads version 1"),
        ("unknown-param-ref", header + "params:\n  vocab: 10\nstages:\n" + source + "  h:\n    uses: ./stages/examples/head\n"
            + "    inputs: {documents: a.documents}\n    with: {count: \"${params.vocb}\"}\n",
         "m.yaml:12:19: error: '${params.vocb}' names no manifest parameter; did you mean 'vocab'?"),
        ("bad-yaml", header + "stages:\n  a: [unclosed\n",
         "m.yaml:5:1: error: invalid YAML: while parsing a flow sequence: did not find expected ',' or ']'"),
        ("yaml-1.1-bool-is-a-string", header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n    with: {path: x, include: yes}\n",
         "m.yaml:6:30: error: parameter 'include' must be a list of string, not string (\"yes\")"),
        ("unknown-need", header + "stages:\n" + source + "    needs: [b]\n",
         "m.yaml:7:13: error: 'needs' names unknown stage 'b'; did you mean 'a'?"),
        ("bad-timeout", header + "stages:\n" + source + "    timeout: soon\n",
         "m.yaml:7:14: error: 'timeout' must be a duration such as 90s, 15m, 2h or 1h30m"),
        ("missing-plugin", header + "stages:\n  a:\n    uses: ./stages/nope\n",
         "m.yaml:5:11: error: plugin folder './stages/nope' does not exist"),
        ("no-stages", header, "m.yaml:1:1: error: missing 'stages'"),
        ("choice-and-float", header + "stages:\n" + source + "    resources: {cpus: 2.5}\n",
         "m.yaml:7:23: error: parameter 'cpus' must be an int, not float (2.5)"),
        ("bad-resources", header + "stages:\n" + source + "    resources: {mem: 8 GB, time: soon, tasks: 0}\n",
         "3 problems:\nm.yaml:7:22: error: resources: 'mem' must be a size such as 512M, 8G or 1T, not '8 GB'\n"
            + "m.yaml:7:34: error: resources: 'time' must be a Slurm time such as 30, 45:00, 02:00:00 or 1-12:00:00, not 'soon'\n"
            + "m.yaml:7:47: error: resources: 'tasks' must be at least 1, not 0"),
        ("root-cause-once", header + "stages:\n  c:\n    uses: colect\n  b:\n    uses: ./stages/examples/lowercase\n"
            + "    inputs: {documents: c.documents}\n    needs: [c]\n",
         "m.yaml:5:11: error: unknown stage kind 'colect'; did you mean 'collect'?"),
        ("bad-executor", header + "executor: slurmm\nstages:\n" + source,
         "m.yaml:3:11: error: 'executor' must be one of local, slurm; did you mean 'slurm'?"),
        ("sweep-unknown-param", sweepHeader + "  metric: a.val.loss\n  space: {lrr: {kind: uniform, low: 0, high: 1}}\n  trials: 4\n",
         "m.yaml:10:11: error: sweep.space names parameter 'lrr', which is not in params (lr, model, model.width); did you mean 'lr'?"),
        ("sweep-unknown-stage", sweepHeader + "  metric: b.val.loss\n  space: {lr: {kind: uniform, low: 0, high: 1}}\n  trials: 4\n",
         "m.yaml:9:11: error: 'metric' names stage 'b', which the manifest does not have; did you mean 'a'?"),
        ("sweep-fields", sweepHeader + "  metric: loss\n  direction: up\n  space: {model.width: {kind: int, low: 8, high: 64}}\n  trials: 0\n  paralel: 2\n",
         "4 problems:\nm.yaml:9:11: error: 'metric' must name a stage's metric as stage.metric, e.g. evaluate.val.loss\n"
            + "m.yaml:10:14: error: 'direction' must be minimize or maximize\n"
            + "m.yaml:12:11: error: 'trials' must be a whole number from 1 to 1000000\n"
            + "m.yaml:13:3: error: unknown field 'paralel' in sweep; did you mean 'parallel'?"),
        ("sweep-space", sweepHeader + "  metric: a.val.loss\n  space:\n    lr: {kind: log_uniform, low: 0, high: 1}\n  trials: 4\n",
         "m.yaml:11:9: error: sweep.space.lr: log_uniform needs 0 < low < high, found low 0.0, high 1.0"),
        ("sweep-sampler", sweepHeader + "  metric: a.val.loss\n  space: {lr: {kind: uniform, low: 0, high: 1}}\n"
            + "  sampler: {kind: tpe, seed: one}\n",
         "2 problems:\nm.yaml:9:3: error: sweep needs 'trials' (how many to run; only a grid knows its own number)\n"
            + "m.yaml:11:30: error: sweep.sampler.seed: expected an integer, found \"one\""),
    ]

    static let sweepHeader = header + "params: {lr: 0.1, model: {width: 16}}\nstages:\n" + source + "sweep:\n"

    func testEachMalformedManifestIsRefusedWithItsExactMessage() throws {
        XCTAssertGreaterThanOrEqual(Self.cases.count, 15)
        let ws = try Workspace()
        defer { ws.remove() }
        for (name, text, expected) in Self.cases {
            try ws.write("m.yaml", text)
            let output = try ws.run(["run", "m.yaml"])
            XCTAssertEqual(output.status, 2, "\(name): exit status")
            XCTAssertEqual(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines), expected, "\(name)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: ws.root.appendingPathComponent("cache").path),
                           "\(name): nothing may be written")
        }
    }

    func testAllProblemsAreReportedTogether() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write("m.yaml", Self.header + "stages:\n  a:\n    uses: ./stages/examples/read-text\n    with: {path: x, shard_bytes: big}\n"
            + "  b:\n    uses: ./stages/examples/lowercase\n    inputs: {documents: nowhere.documents}\n")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, 2)
        XCTAssertEqual(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines), """
        2 problems:
        m.yaml:6:34: error: parameter 'shard_bytes' must be an int, not string ("big")
        m.yaml:9:25: error: input 'documents' names unknown stage 'nowhere'
        """)
    }

    func testUnknownSetOverrideIsAUsageError() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        try ws.write("m.yaml", Self.header + "params: {keep: 1}\nstages:\n" + Self.source)
        let output = try ws.run(["run", "m.yaml", "--set", "kep=2"])
        XCTAssertEqual(output.status, 2)
        XCTAssertEqual(output.stderr.trimmingCharacters(in: .whitespacesAndNewlines),
                       "error: --set kep=2: the manifest has no parameter 'kep'; did you mean 'keep'?")
    }
}
