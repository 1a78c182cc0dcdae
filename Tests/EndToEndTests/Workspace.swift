import Foundation
import XCTest

/// A throwaway workspace with the example plugins, driven through the built `pipe` binary.
struct Workspace {
    let root: URL

    /// The repository root (two folders above this file's folder).
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// The binary under test: `PIPE_BIN`, else the debug build.
    static let binary: URL = {
        if let path = ProcessInfo.processInfo.environment["PIPE_BIN"], !path.isEmpty { return URL(fileURLWithPath: path) }
        return repository.appendingPathComponent(".build/debug/pipe")
    }()

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("stages"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.repository.appendingPathComponent("stages/examples"),
                                         to: root.appendingPathComponent("stages/examples"))
    }

    /// Copies the repository's docs/ into `corpus/`: real text for stages to learn from.
    func addDocsCorpus() throws {
        try FileManager.default.copyItem(at: Self.repository.appendingPathComponent("docs"), to: root.appendingPathComponent("corpus"))
    }

    /// The JSON objects of a JSON-lines file in the workspace.
    func jsonLines(_ relative: String) throws -> [[String: Any]] {
        try read(relative).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    /// The documents of a published documents folder's first shard.
    func documents(_ folder: String) throws -> [[String: Any]] { try jsonLines(folder + "/part-00000.jsonl") }

    /// Manifest stages (at stage indentation) that collect `corpus/**/*.md` (see `addDocsCorpus`)
    /// as `text` and train a byte-level BPE tokenizer on it as `tokenize`; `source` adds fields
    /// to the collect source (`, name: docs, license: MIT`).
    static func docsTokenizeStages(vocab: Int, splits: String, source: String = "") -> String {
        """
          text:
            uses: collect
            with: {sources: [{path: corpus, include: ["**/*.md"]\(source)}]}
          tokenize:
            uses: bpe-tokenize
            inputs: {documents: text.documents}
            with: {vocab_size: \(vocab), split_by: tokens, splits: \(splits)}
        """
    }

    func remove() {
        _ = try? run(["gc", "--dry-run"])  // keeps nothing alive; harmless
        try? FileManager.default.removeItem(at: root)
    }

    @discardableResult
    func write(_ relative: String, _ text: String) throws -> URL {
        let url = root.appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
        return url
    }

    /// A shell plugin under `stages/name` whose `run.sh` is `script`, writing one output
    /// `documents`; `extra` is appended to its stage.yaml (inputs, probes).
    func writeShellPlugin(_ name: String, script: String, extra: String = "") throws {
        try write("stages/\(name)/stage.yaml", """
        name: \(name)
        version: 1
        run: [sh, run.sh]
        outputs:
          documents: {kind: documents}
        \(extra)
        """)
        try write("stages/\(name)/run.sh", script)
    }

    func read(_ relative: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relative), encoding: .utf8)
    }

    /// What a finished `pipe` process printed and returned.
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
    }

    /// Runs `pipe` in the workspace.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
        process.currentDirectoryURL = root
        var env = ProcessInfo.processInfo.environment
        env["PIPE_CACHE"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        // Both pipes drain at once: a child that fills one (64 KiB) while the test waits on the
        // other would never finish.
        nonisolated(unsafe) var stderrData = Data()
        let stderrRead = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            stderrData = err.fileHandleForReading.readDataToEndOfFile()
            stderrRead.signal()
        }
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        stderrRead.wait()
        process.waitUntilExit()
        return Output(status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
                      stderr: String(decoding: stderrData, as: UTF8.self))
    }

    /// Runs `pipe arguments` with its output discarded, and returns its exit status and its own
    /// peak resident set size in KiB: the largest `VmHWM` read from `/proc/<pid>/status` every
    /// 10 ms while it runs. Not `wait4`'s `ru_maxrss`: posix_spawn starts the child on the test
    /// process's memory (vfork), and Linux carries that memory's peak into the child's figure at
    /// exec, so it would report the test process's size. With `killAfter`, a run still going after
    /// that many seconds is killed (status 137), so a hang fails the test instead of stalling it.
    func runMeasuringPeakMemory(_ arguments: [String], killAfter: TimeInterval? = nil) throws -> (status: Int32, peakKiB: Int) {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var env = ProcessInfo.processInfo.environment
        env["PIPE_CACHE"] = nil
        // sh changes into the workspace and execs pipe, which keeps its process id.
        let argv = (["sh", "-c", "cd \"$0\" && exec \"$@\"", root.path, Self.binary.path] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, envp)
        guard spawned == 0 else { throw NSError(domain: "posix_spawn", code: Int(spawned)) }
        var status: Int32 = 0, peak = 0
        let deadline = killAfter.map { Date().addingTimeInterval($0) }
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { break }
            if let deadline, Date() > deadline { kill(pid, SIGKILL) }
            if reaped < 0 && errno != EINTR { throw NSError(domain: "waitpid", code: Int(errno)) }
            peak = max(peak, Self.highWaterMarkKiB(of: pid))
            usleep(10_000)
        }
        let exitStatus = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (exitStatus, peak)
    }

    /// `VmHWM` (peak resident set size, KiB) of a running process, 0 once it has exited.
    private static func highWaterMarkKiB(of pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }

    /// Runs any program to completion; stdout and stderr together.
    static func execute(_ program: String, _ arguments: [String], in folder: URL,
                        environment: [String: String]? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A plugin whose metric `value` is the Branin function of its params `x1`, `x2`, after
    /// sleeping `seconds`.
    func writeBranin(seconds: Double = 0) throws {
        try write("stages/branin/stage.yaml", """
        name: branin
        version: 1
        run: [sh, run.sh]
        params:
          x1: {type: float, default: 0}
          x2: {type: float, default: 0}
        outputs: {metrics: {kind: metrics}}
        """)
        try write("stages/branin/run.sh", """
        sleep \(seconds)
        awk -v x1="$PIPE_PARAM_X1" -v x2="$PIPE_PARAM_X2" 'BEGIN { pi = atan2(0, -1); b = 5.1 / (4 * pi * pi); c = 5 / pi
          t = 1 / (8 * pi); printf "::metric value %.17g\\n", (x2 - b * x1 * x1 + c * x1 - 6) ^ 2 + 10 * (1 - t) * cos(x1) + 10 }'
        echo '{}' > "$PIPE_OUTPUT_METRICS/metrics.json"

        """)
    }

    /// The run records in the workspace's cache of the stage named `stage`, as JSON objects.
    func runRecords(of stage: String) throws -> [[String: Any]] {
        let folder = root.appendingPathComponent("cache/runs")
        return try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }.compactMap {
            let record = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent($0))) as? [String: Any]
            return record?["stage"] as? String == stage ? record : nil
        }
    }

    /// `pipe run --json` and the status of each stage.
    func runStages(_ manifest: String, _ extra: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws -> [String: String] {
        let output = try run(["run", manifest, "--json"] + extra)
        XCTAssertEqual(output.status, 0, "pipe run failed: \(output.stderr)\n\(output.stdout)", file: file, line: line)
        guard let summary = output.json as? [String: Any], let stages = summary["stages"] as? [[String: Any]] else {
            XCTFail("no JSON summary: \(output.stdout)", file: file, line: line)
            return [:]
        }
        var result: [String: String] = [:]
        for s in stages { result[s["stage"] as! String] = s["status"] as? String }
        return result
    }
}
