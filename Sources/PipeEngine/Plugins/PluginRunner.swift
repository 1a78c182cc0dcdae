import Foundation
import PipeKit

/// Runs an external plugin: writes `request.json`, starts the command with `PIPE_REQUEST` set,
/// and turns `::progress` and `::metric` lines into events.
struct PluginRunner {
    let plugin: PluginDefinition

    func run(stage: String, params: JSONValue, inputs: [String: URL], outputs: [String: URL], scratch: URL,
             work: URL, workspace: URL, threads: Int, timeout: Double?, cancel: CancellationFlag,
             events: StageEvents) throws
    {
        let request: JSONValue = .object([
            "format": .int(1),
            "stage": .string(stage),
            "kind": .string(plugin.name),
            "params": params,
            "inputs": .object(inputs.mapValues { .string($0.path) }),
            "outputs": .object(outputs.mapValues { .string($0.path) }),
            "scratch": .string(scratch.path),
            "work": .string(work.path),
            "workspace": .string(workspace.path),
            "threads": .int(Int64(threads)),
        ])
        let requestURL = scratch.appendingPathComponent("request.json")
        // Not fsynced: scratch is deleted after the run, and a crashed run starts over.
        try FileSystem.writeUnsynced(Data(request.prettyJSON.utf8), to: requestURL)

        var environment = ProcessInfo.processInfo.environment
        environment["PIPE_REQUEST"] = requestURL.path
        environment["PIPE_THREADS"] = String(threads)
        environment["PIPE_WORKSPACE"] = workspace.path
        if environment["OMP_NUM_THREADS"] == nil { environment["OMP_NUM_THREADS"] = String(threads) }
        environment["PYTHONUNBUFFERED"] = "1"
        environment["PIPE_SCRATCH"] = scratch.path
        environment["PIPE_WORK"] = work.path
        for (port, url) in inputs { environment["PIPE_INPUT_" + Self.envName(port)] = url.path }
        for (port, url) in outputs { environment["PIPE_OUTPUT_" + Self.envName(port)] = url.path }
        for (name, value) in params.objectValue ?? [:] {
            switch value {
            case .string, .int, .double, .bool: environment["PIPE_PARAM_" + Self.envName(name)] = value.displayString
            default: break
            }
        }

        let ending = try ChildProcess.run(plugin.run, in: plugin.folder, environment: environment, timeout: timeout,
                                          cancel: cancel) { line in
            handle(line, events: events)
        }
        switch ending {
        case .exited(0): return
        case .exited(let code): throw StageError("plugin '\(plugin.name)' exited with status \(code)")
        case .signalled(let signal): throw StageError("plugin '\(plugin.name)' was killed by signal \(signal)")
        case .timedOut: throw StageError("plugin '\(plugin.name)' exceeded its timeout of \(Int(timeout ?? 0)) s and was stopped")
        case .cancelled: throw CancellationError()
        }
    }

    /// `min_chars` -> `MIN_CHARS`: the environment variable spelling of a port or parameter name.
    static func envName(_ name: String) -> String {
        String(name.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }

    func handle(_ line: String, events: StageEvents) {
        switch PluginLine(line) {
        case .progress(let fraction, let message): events.progress(fraction: fraction, message: message)
        case .metric(let name, let value): events.metric(name: name, value: value)
        case .intermediate(let name, let value, let step): events.report(name: name, step: step, value: value)
        case .warning(let message): events.warn(message)
        case .log(let text): events.log(text)
        }
    }
}

/// One line a plugin printed: `::progress <0..1> <message>`, `::metric <name> <value>`,
/// `::metric <name> <value> step=<N>` (an intermediate value), `::warning <message>`, or else a
/// log line. A progress or metric line whose number is not finite (or a fraction outside 0...1,
/// or a step that is not a whole number from 0) is kept as a log line.
public enum PluginLine: Equatable, Sendable {
    case progress(Double, String)
    case metric(String, Double)
    case intermediate(String, Double, step: Int)
    case warning(String)
    case log(String)

    public init(_ line: String) {
        if line.hasPrefix("::progress ") {
            let rest = line.dropFirst(11).split(separator: " ", maxSplits: 1)
            if let first = rest.first, let fraction = Double(first), (0...1).contains(fraction) {
                self = .progress(fraction, rest.count > 1 ? String(rest[1]) : "")
                return
            }
        } else if line.hasPrefix("::warning ") {
            self = .warning(String(line.dropFirst(10)))
            return
        } else if line.hasPrefix("::metric ") {
            let parts = line.dropFirst(9).split(separator: " ")
            if parts.count == 2 || parts.count == 3, let value = Double(parts[1]), value.isFinite {
                if parts.count == 2 {
                    self = .metric(String(parts[0]), value)
                    return
                }
                if parts[2].hasPrefix("step="), let step = Int(parts[2].dropFirst(5)), step >= 0 {
                    self = .intermediate(String(parts[0]), value, step: step)
                    return
                }
            }
        }
        self = .log(line)
    }
}

/// Runs a plugin's environment probes, so upgrading what the plugin runs on makes it stale.
enum EnvironmentProbe {
    static func digest(_ command: [String], in folder: URL) -> String {
        var output = ""
        let ending = try? ChildProcess.run(command, in: folder, environment: ProcessInfo.processInfo.environment,
                                           timeout: 30, cancel: CancellationFlag()) { line in
            if output.utf8.count < 1 << 20 { output += line + "\n" }
        }
        let status: String
        switch ending {
        case .exited(let code)?: status = "exit \(code)"
        case nil: status = "not runnable"
        default: status = "failed"
        }
        return Hasher128.hash(status + "\n" + output).hex
    }
}
