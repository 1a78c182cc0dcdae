import Foundation
import PipeKit

/// The Slurm commands pipe uses: `sbatch` to submit, `scontrol show job -o` to read a job's
/// state (sacct needs slurmdbd, which small clusters often lack), `scancel` to cancel.
enum Slurm {
    /// A job's state as `scontrol` reports it.
    struct JobState: Sendable {
        var id: String
        /// The task of an array (`3`, or `4-7` for tasks still pending together), if any.
        var arrayTask: String?
        /// The array's id, for a task of an array.
        var arrayJob: String?
        var state: String
        var reason: String
        var exitCode: String
        var host: String?

        /// Whether the job may still run (or is finishing).
        var isActive: Bool { Self.activeStates.contains(state) }
        var isCompleted: Bool { state == "COMPLETED" }

        static let activeStates: Set<String> = ["PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED",
                                                "REQUEUE_FED", "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "RESV_DEL_HOLD"]

        /// Parses one line of `scontrol show job -o` (space-separated `Key=Value` fields).
        init?(scontrolLine line: String) {
            var fields: [String: String] = [:]
            for token in line.split(separator: " ") {
                guard let eq = token.firstIndex(of: "=") else { continue }
                fields[String(token[..<eq])] = String(token[token.index(after: eq)...])
            }
            guard let state = fields["JobState"] else { return nil }
            self.state = state
            id = fields["JobId"] ?? "?"
            arrayTask = fields["ArrayTaskId"].flatMap { $0 == "N/A" ? nil : $0 }
            arrayJob = fields["ArrayJobId"].flatMap { $0 == "N/A" ? nil : $0 }
            reason = fields["Reason"] ?? "None"
            exitCode = fields["ExitCode"] ?? "?"
            host = fields["BatchHost"].flatMap { $0 == "(null)" || $0 == "n/a" ? nil : $0 }
        }
    }

    /// Submits `script`; returns the job id.
    static func submit(_ script: URL) throws -> String {
        let (status, output) = try capture(["sbatch", "--parsable", script.path])
        let id = output.split(separator: "\n").last.map { String($0.split(separator: ";")[0]) } ?? ""
        guard status == 0, !id.isEmpty, id.allSatisfy(\.isNumber) else {
            throw StageError("sbatch failed (status \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return id
    }

    /// The job's state (one per task of an array, pending tasks grouped), or nil once Slurm has
    /// forgotten it (after `MinJobAge`).
    static func states(_ id: String) throws -> [JobState]? {
        let (status, output) = try capture(["scontrol", "show", "job", "-o", id])
        if status != 0 {
            if output.contains("Invalid job id") { return nil }
            throw StageError("scontrol show job \(id) failed (status \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        let states = output.split(separator: "\n").compactMap { JobState(scontrolLine: String($0)) }
        guard !states.isEmpty else { throw StageError("cannot read the state of Slurm job \(id) from: \(output)") }
        return states
    }

    /// The states of several jobs (every task of an array under its array's id) in one `squeue`
    /// call; nil when Slurm no longer knows one of them (then ask `states` one by one).
    static func queueStates(_ ids: [String]) throws -> [String: [JobState]]? {
        guard !ids.isEmpty else { return [:] }
        let (status, output) = try capture(["squeue", "-h", "--states=all", "--jobs=" + ids.joined(separator: ","),
                                            "-o", "JobId=%A ArrayJobId=%F ArrayTaskId=%K JobState=%T Reason=%r BatchHost=%B"])
        if status != 0 {
            if output.contains("Invalid job id") { return nil }
            throw StageError("squeue failed (status \(status)): \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        var result: [String: [JobState]] = [:]
        for line in output.split(separator: "\n") {
            guard let state = JobState(scontrolLine: String(line)) else { continue }
            result[state.arrayJob ?? state.id, default: []].append(state)
        }
        return result
    }

    /// Cancels the job (and every task of an array).
    static func cancel(_ id: String) {
        _ = try? capture(["scancel", id])
    }

    /// Runs a Slurm command; its status and its output (stdout and stderr).
    private static func capture(_ argv: [String]) throws -> (Int32, String) {
        var lines: [String] = []
        let ending = try ChildProcess.run(argv, in: URL(fileURLWithPath: "/"), environment: ProcessInfo.processInfo.environment,
                                          timeout: 60, cancel: CancellationFlag()) { lines.append($0) }
        let output = lines.joined(separator: "\n")
        switch ending {
        case .exited(127): throw StageError("\(argv[0]) is not on PATH: the slurm executor needs Slurm's client commands")
        case .exited(let code): return (code, output)
        default: throw StageError("\(argv[0]) did not finish (\(ending)): \(output)")
        }
    }

    /// `text` quoted for a POSIX shell.
    static func quote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
