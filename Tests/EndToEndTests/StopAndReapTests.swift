import Foundation
import XCTest

/// A run stops promptly on one interrupt, never hangs on special files, and leaves no process of
/// a plugin behind.
final class StopAndReapTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    /// Starts `pipe run m.yaml`; the caller waits for it.
    func startRun() throws -> Process {
        let process = Process()
        process.executableURL = Workspace.binary
        process.arguments = ["run", "m.yaml"]
        process.currentDirectoryURL = ws.root
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits up to `seconds` for `process`; kills it and fails the test if it is still running.
    func wait(_ process: Process, atMost seconds: Double, _ what: String) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        guard !process.isRunning else {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            XCTFail("\(what): still running after \(seconds) s")
            return false
        }
        return true
    }

    func processes(matching pattern: String) throws -> String {
        try Workspace.execute("/bin/sh", ["-c", "pgrep -f '\(pattern)' || true"], in: ws.root).output
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testOneInterruptEndsARunWhosePluginIgnoresTERM() throws {
        try ws.writeShellPlugin("stubborn", script: "trap '' TERM\ntouch \"$PIPE_WORKSPACE/started\"\nwhile :; do sleep 0.1; done\n")
        try ws.write("m.yaml", "version: 1\nname: s\nstages:\n  s:\n    uses: ./stages/stubborn\n")
        let process = try startRun()
        let started = ws.root.appendingPathComponent("started")
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: started.path), Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let interrupted = Date()
        kill(process.processIdentifier, SIGINT)
        guard wait(process, atMost: 20, "after one SIGINT") else { return }
        XCTAssertEqual(process.terminationStatus, 130)
        XCTAssertLessThan(Date().timeIntervalSince(interrupted), 3, "one interrupt ends the run within a second or two")
    }

    func testAFIFOInAPluginFolderDoesNotHangTheRun() throws {
        try ws.writeShellPlugin("fifo", script: "echo '{\"id\": \"a\", \"text\": \"x\"}' > \"$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl\"\n")
        XCTAssertEqual(mkfifo(ws.root.appendingPathComponent("stages/fifo/requests.fifo").path, 0o644), 0)
        try ws.write("m.yaml", "version: 1\nname: s\nstages:\n  s:\n    uses: ./stages/fifo\n")
        let process = try startRun()
        guard wait(process, atMost: 20, "a run whose plugin folder holds a FIFO") else { return }
        XCTAssertEqual(process.terminationStatus, 0)
    }

    func testAFIFOAsAnExternalInputIsAnErrorNotAHang() throws {
        XCTAssertEqual(mkfifo(ws.root.appendingPathComponent("vocab.fifo").path, 0o644), 0)
        try ws.write("stages/reader/stage.yaml", """
        name: reader
        version: 1
        run: [sh, run.sh]
        params:
          file: {type: string, default: vocab.fifo}
        external: [file]
        outputs:
          documents: {kind: documents}
        """)
        try ws.write("stages/reader/run.sh", "true\n")
        try ws.write("m.yaml", "version: 1\nname: s\nstages:\n  s:\n    uses: ./stages/reader\n")
        let output = try ws.run(["run", "m.yaml"])
        XCTAssertEqual(output.status, 1)
        XCTAssertTrue(output.stderr.contains("external input 'vocab.fifo' is not a regular file"), output.stderr)
    }

    func testAChildThatLeftThePluginsProcessGroupEndsWithItsStage() throws {
        try ws.writeShellPlugin("daemon", script: """
        setsid sleep 4711 > /dev/null 2>&1 < /dev/null &
        until pgrep -f '^sleep 4711$' > /dev/null; do sleep 0.05; done
        echo '{"id": "a", "text": "x"}' > "$PIPE_OUTPUT_DOCUMENTS/part-00000.jsonl"

        """)
        try ws.write("m.yaml", "version: 1\nname: s\nstages:\n  s:\n    uses: ./stages/daemon\n")
        let process = try startRun()
        guard wait(process, atMost: 30, "a run whose plugin left a setsid child") else { return }
        XCTAssertEqual(process.terminationStatus, 0)
        var left = try processes(matching: "^sleep 4711$")
        let gone = Date().addingTimeInterval(3)
        while !left.isEmpty, Date() < gone {
            Thread.sleep(forTimeInterval: 0.1)
            left = try processes(matching: "^sleep 4711$")
        }
        XCTAssertTrue(left.isEmpty, "the setsid child was killed with its stage: \(left)")
        if !left.isEmpty { _ = try processes(matching: "^sleep 4711$").split(separator: "\n").map { kill(pid_t($0)!, SIGKILL) } }
    }
}
