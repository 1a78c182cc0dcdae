import ArgumentParser
import Foundation
import PipeEngine
import PipeKit

/// `pipe run MANIFEST [STAGE...]`: brings stages up to date.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the stale stages of a pipeline (all, or the named ones and what they need).")

    @OptionGroup var options: ManifestOptions

    @Argument(help: "Stages to bring up to date, with what they need (default: all).")
    var stages: [String] = []

    @Option(help: "Run this stage even if it is fresh (repeatable).")
    var force: [String] = []

    @Flag(help: "Show what would run and why, without running anything.")
    var dryRun = false

    @Flag(help: "After a failure, keep running the branches that do not depend on it.")
    var keepGoing = false

    @Option(name: .shortAndLong, help: "Stages to run at once (default: number of cores).")
    var jobs: Int?

    @OptionGroup var execution: ExecutionOptions

    @Flag(name: .shortAndLong, help: "Show the stages' log lines and cached stages too.")
    var verbose = false

    @Flag(help: "Print a machine-readable summary on standard output.")
    var json = false

    func run() async throws {
        let (manifest, cache) = try options.load()
        for name in stages + force where manifest.stage(name) == nil {
            throw UsageError("no stage named '\(name)' in \(manifest.displayPath)"
                + Suggestion.hint(for: name, in: manifest.stages.map(\.name)))
        }
        if let jobs, jobs < 1 { throw UsageError("--jobs must be at least 1") }
        var runOptions = RunOptions()
        runOptions.targets = stages
        runOptions.force = Set(force)
        runOptions.keepGoing = keepGoing
        try execution.apply(to: &runOptions, manifest: manifest, jobs: jobs)

        if dryRun {
            let planner = try PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: runOptions)
            planner.notices.forEach { Terminal.error("warning: " + $0) }
            return try showPlan(planner)
        }
        let reporter = RunReporter(quiet: json, verbose: verbose)
        let runner = try PipelineRunner(manifest: manifest, cache: cache, observer: reporter, options: runOptions)
        let started = Date()
        let task = Task { await runner.run() }
        let interrupts = InterruptHandler {
            runner.cancel()
            task.cancel()
        }
        let summary = await task.value
        interrupts.disarm()
        reporter.stop()
        runner.notices.forEach { Terminal.error("warning: " + $0) }
        let seconds = Date().timeIntervalSince(started)

        if json {
            printJSON(summaryJSON(summary, manifest: manifest, seconds: seconds))
        } else {
            printSummary(summary, seconds: seconds)
        }
        if summary.interrupted { throw ExitCode(ExitStatus.interrupted) }
        if summary.failed { throw ExitCode(ExitStatus.stageFailed) }
    }

    /// `--dry-run`: what would run and why, without running anything.
    private func showPlan(_ runner: PipelineRunner) throws {
        let statuses = runner.status()
        let stale = statuses.filter { $0.state != .fresh }
        if json {
            printJSON(.object(["would_run": .array(stale.map { s in
                .object(["stage": .string(s.stage), "reasons": .array(s.reasons.map { .string($0.description) })])
            })]))
            return
        }
        for s in stale {
            print("would run \(Terminal.bold(s.stage)): \(s.reasons.map(\.description).joined(separator: "; "))")
        }
        print(stale.isEmpty ? "Nothing would run: all \(statuses.count) stages are up to date."
            : "\(stale.count) of \(statuses.count) stages would run.")
    }

    private func printSummary(_ summary: RunSummary, seconds: Double) {
        let counts = Dictionary(grouping: summary.reports, by: { $0.outcome.label }).mapValues(\.count)
        if summary.ranCount == 0 && !summary.failed && !summary.interrupted {
            Terminal.error("Nothing to do: all \(summary.reports.count) stages are up to date (0 ran, \(counts["cached"] ?? 0) cached) in \(Terminal.duration(seconds)).")
            printWarnings(summary)
            return
        }
        let rows = summary.reports.map { r -> [String] in
            let status: String
            switch r.outcome {
            case .ran: status = Terminal.color("ran", 32)
            case .cached: status = Terminal.dim("cached")
            case .failed: status = Terminal.color("failed", 31)
            case .skipped(let because): status = Terminal.color("skipped", 33) + " (\(because))"
            case .stopped(let reason): status = Terminal.color("stopped", 33) + " (\(reason))"
            case .refused: status = Terminal.color("refused", 31)
            }
            let time: String = { if case .ran = r.outcome { return Terminal.duration(r.seconds) } else { return "-" } }()
            return [r.stage, time, status]
        }
        Terminal.error("\n" + Terminal.table(["stage", "time", "status"], rows))
        Terminal.error("\n\(summary.ranCount) ran, \(counts["cached"] ?? 0) cached, \(counts["failed"] ?? 0) failed, "
            + (counts["refused"].map { "\($0) refused, " } ?? "")
            + "\(counts["skipped"] ?? 0) skipped" + (counts["stopped"].map { ", \($0) stopped" } ?? "") + " in \(Terminal.duration(seconds))")
        printWarnings(summary)
        for r in summary.reports {
            if case .refused(let reason) = r.outcome {
                Terminal.error("\n\(Terminal.color("✗", 31)) \(Terminal.bold(r.stage)) refused: \(reason)")
            }
            guard case .failed(let message, let tail) = r.outcome else { continue }
            Terminal.error("\n\(Terminal.color("✗", 31)) \(Terminal.bold(r.stage)) failed: \(message)")
            if !tail.isEmpty {
                Terminal.error(Terminal.dim("  last lines of its log:"))
                Terminal.error(tail.map { "  | " + $0 }.joined(separator: "\n"))
            }
        }
    }

    private func printWarnings(_ summary: RunSummary) {
        for r in summary.reports {
            for warning in r.warnings { Terminal.error("\(Terminal.color("!", 33)) \(Terminal.bold(r.stage)) warning: \(warning)") }
        }
    }

    private func summaryJSON(_ summary: RunSummary, manifest: Manifest, seconds: Double) -> JSONValue {
        .object([
            "manifest": .string(manifest.displayPath),
            "seconds": .double(seconds),
            "interrupted": .bool(summary.interrupted),
            "ran": .int(Int64(summary.ranCount)),
            "stages": .array(summary.reports.map { r in
                var fields: [String: JSONValue] = [
                    "stage": .string(r.stage), "status": .string(r.outcome.label), "seconds": .double(r.seconds),
                ]
                if let key = r.key { fields["key"] = .string(key) }
                if !r.warnings.isEmpty { fields["warnings"] = .array(r.warnings.map(JSONValue.string)) }
                switch r.outcome {
                case .failed(let message, let tail):
                    fields["error"] = .string(message)
                    fields["log_tail"] = .array(tail.map(JSONValue.string))
                case .skipped(let because): fields["reason"] = .string(because)
                case .stopped(let reason), .refused(let reason): fields["reason"] = .string(reason)
                default: break
                }
                return .object(fields)
            }),
        ])
    }
}

extension ExecutorKind: ExpressibleByArgument {}

/// Turns the first Ctrl-C (or SIGTERM) into a clean stop; a second one, or a stop that takes
/// longer than `patience` seconds, exits at once after killing every child. Nothing is lost by
/// exiting: results are recorded atomically, and a later run removes the killed run's temp folders.
final class InterruptHandler: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private var count = 0
    private let disarmed = CancellationFlag()

    static let patience: Double = 2

    init(_ onInterrupt: @escaping @Sendable () -> Void) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self else { return }
                self.count += 1
                if self.count > 1 { Self.exitNow() }
                Terminal.error("\ninterrupted: stopping running stages; nothing partial is cached (Ctrl-C again to quit now)")
                onInterrupt()
                DispatchQueue.global().asyncAfter(deadline: .now() + Self.patience) { [disarmed = self.disarmed] in
                    guard !disarmed.isSet else { return }
                    Terminal.error("stages did not stop within \(Int(Self.patience)) s; quitting")
                    Self.exitNow()
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    private static func exitNow() -> Never {
        for failure in ProcessReaper.killAll() { Terminal.error("warning: some of a stage's processes may still run: \(failure)") }
        exit(ExitStatus.interrupted)
    }

    func disarm() {
        disarmed.set()
        sources.forEach { $0.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
