import ArgumentParser
import BuiltinStages
import Foundation
import PipeEngine
import PipeKit
import Sweep

/// `pipe sweep M`, `pipe sweep status M`, `pipe sweep best M`: hyperparameter search over a
/// manifest's params, as its `sweep:` block declares (docs/sweeps.md).
struct SweepCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "Search the manifest's params for the best value of a stage metric (its sweep: block).",
        subcommands: [SweepRunCommand.self, SweepStatusCommand.self, SweepBestCommand.self],
        defaultSubcommand: SweepRunCommand.self)
}

/// A manifest with a `sweep:` block, its cache, and its study's state.
struct LoadedStudy {
    var manifest: Manifest
    var cache: Cache
    var block: SweepBlock

    init(_ options: ManifestOptions) throws {
        (manifest, cache) = try options.load()
        guard let block = manifest.sweep else { throw UsageError("\(manifest.displayPath) has no sweep: block (docs/sweeps.md)") }
        self.block = block
    }

    /// The study's trials as its journal tells them (none when it never ran).
    func state() throws -> StudyState {
        guard let journal = try StudyJournal.existing(cache: cache, study: block.study) else { return StudyState([]) }
        let (entries, skipped) = try journal.read()
        if skipped > 0 {
            Terminal.error(journal.skippedWarning(skipped))
        }
        return StudyState(entries)
    }

    /// Loads the same manifest with `extra` overrides after the command line's own, from the
    /// file as it is now: it is parsed once, and each trial's params are applied to that.
    func loader() throws -> @Sendable ([(String, String)]) throws -> Manifest {
        let root = try YAMLLoader.load(file: manifest.url, displayPath: manifest.displayPath)
        return { [manifest] extra in
            try ManifestLoader(registry: BuiltinStages.registry, workspace: manifest.workspace)
                .load(root, url: manifest.url, displayPath: manifest.displayPath,
                      overrides: manifest.overrides.map { ($0[0], $0[1]) } + extra)
        }
    }

    /// A trial's params as `--set` overrides.
    static func overrides(_ params: [String: JSONValue]) -> [(String, String)] {
        params.sorted { $0.key < $1.key }.map { ($0.key, $0.value.canonicalJSON) }
    }

    /// `--set lr=0.01 --set opt='"adam"'`: the overrides as a shell would pass them.
    static func setFlags(_ params: [String: JSONValue]) -> String {
        overrides(params).map { name, value in
            let plain = value.allSatisfy { $0.isLetter || $0.isNumber || "._+-".contains($0) }
            return "--set \(name)=" + (plain ? value : "'" + value.replacingOccurrences(of: "'", with: "'\\''") + "'")
        }.joined(separator: " ")
    }

    /// The trial table, best first, then the others by number.
    func table(_ state: StudyState) -> (header: [String], rows: [[String]]) {
        let best = state.best(block.direction)
        let rest = state.ordered.filter { trial in !best.contains { $0.number == trial.number } }
        let rows = (best + rest).map { t -> [String] in
            let metric = t.value.map { String(format: "%.6g", $0) } ?? t.curve.last.map { String(format: "(%.6g @%d)", $0.value, $0.step) } ?? "-"
            return ["\(t.number)", SweepDriver.describe(t.params), metric, t.status.rawValue,
                    t.seconds.map { String(format: "%.1f", $0) } ?? "-"]
        }
        return (["trial", "params", block.metric.description, "state", "seconds"], rows)
    }

    /// The study as JSON: its trials (best first) and `sweep.best.<metric>`.
    func json(_ state: StudyState) -> JSONValue {
        let best = state.best(block.direction)
        let order = best + state.ordered.filter { trial in !best.contains { $0.number == trial.number } }
        var fields: [String: JSONValue] = [
            "study": .string(block.study), "metric": .string(block.metric.description),
            "direction": .string(block.direction.rawValue), "planned": .int(Int64(block.trials)),
            "trials": .array(order.map { t in
                var trial: [String: JSONValue] = ["number": .int(Int64(t.number)), "params": .object(t.params),
                                                  "state": .string(t.status.rawValue),
                                                  "curve": .array(t.curve.map { .array([.int(Int64($0.step)), .double($0.value)]) })]
                if let value = t.value { trial["value"] = .double(value) }
                if let seconds = t.seconds { trial["seconds"] = .double(seconds) }
                if let message = t.message { trial["message"] = .string(message) }
                return .object(trial)
            }),
        ]
        if let top = best.first {
            fields["sweep.best.\(block.metric)"] = .double(top.value!)
            fields["best_trial"] = .int(Int64(top.number))
        }
        return .object(fields)
    }
}

/// `pipe sweep M`: runs the study's trials (resuming it if it exists).
struct SweepRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a sweep's trials, or resume its study: only the cache is filled; `pipe sweep best --publish` publishes.")

    @OptionGroup var options: ManifestOptions

    /// `--threads` are shared by the trials running at once.
    @OptionGroup var execution: ExecutionOptions

    @Flag(name: .shortAndLong, help: "Show the trials' stages as they run.")
    var verbose = false

    @Flag(help: "Print the study as JSON on standard output at the end.")
    var json = false

    func run() async throws {
        let study = try LoadedStudy(options)
        let block = study.block
        var runOptions = RunOptions()
        try execution.apply(to: &runOptions, manifest: study.manifest, jobs: nil)
        runOptions.threads = max(1, runOptions.threads / block.parallel)

        let reporter = verbose ? RunReporter(quiet: false, verbose: false) : nil
        let driver = try SweepDriver(block: block, cache: study.cache, options: runOptions, load: try study.loader(),
                                     display: reporter, say: { Terminal.error($0) })
        Terminal.error("study '\(block.study)': \(block.trials) trials, \(block.parallel) at once, "
            + "\(block.direction.rawValue) \(block.metric); journal \(driver.journal.url.path)")
        let task = Task { try await driver.run() }
        let interrupts = InterruptHandler {
            driver.cancel()
            task.cancel()
        }
        let result = await task.result
        interrupts.disarm()
        reporter?.stop()
        let state = try result.get()
        if json { printJSON(study.json(state)) } else { SweepStatusCommand.show(study, state) }
        if task.isCancelled { throw ExitCode(ExitStatus.interrupted) }
        if state.best(block.direction).isEmpty { throw ExitCode(ExitStatus.stageFailed) }
    }
}

/// `pipe sweep status M`: the study's trials, best first.
struct SweepStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show a sweep's trials (params, metric, state, time), best first.")

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Print machine-readable output.")
    var json = false

    func run() async throws {
        let study = try LoadedStudy(options)
        let state = try study.state()
        if json { printJSON(study.json(state)) } else { Self.show(study, state) }
    }

    static func show(_ study: LoadedStudy, _ state: StudyState) {
        let (header, rows) = study.table(state)
        Terminal.error("\n" + Terminal.table(header, rows))
        let counts = Dictionary(grouping: state.ordered, by: \.status).mapValues(\.count)
        Terminal.error("\n\(state.trials.count) of \(study.block.trials) trials: "
            + TrialState.allCases.compactMap { s in counts[s].map { "\($0) \(s.rawValue)" } }.joined(separator: ", "))
        if let best = state.best(study.block.direction).first {
            Terminal.error("sweep.best.\(study.block.metric) = \(best.value!) (trial \(best.number)): "
                + "pipe run \(study.manifest.displayPath) \(LoadedStudy.setFlags(best.params))")
        }
    }
}

/// `pipe sweep best M`: the best trial's params, written or published.
struct SweepBestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "best", abstract: "Print the best trial's params as --set flags; write them, or publish its outputs.")

    @OptionGroup var options: ManifestOptions

    @Option(help: "Write the best params to this YAML file (a params: mapping).")
    var write: String?

    @Flag(help: "Run the manifest with the best params like `pipe run` (cached stages are reused) and publish its outputs.")
    var publish = false

    func run() async throws {
        let study = try LoadedStudy(options)
        guard let best = try study.state().best(study.block.direction).first else {
            throw UsageError("study '\(study.block.study)' has no complete trial yet: run `pipe sweep \(study.manifest.displayPath)`")
        }
        print(LoadedStudy.setFlags(best.params))
        Terminal.error("trial \(best.number): \(study.block.metric) = \(best.value!)")
        if let write {
            let url = URL(fileURLWithPath: write, relativeTo: study.manifest.workspace)
            try AtomicFile.write(Data(Self.yaml(best.params).utf8), to: url)
            Terminal.error("wrote \(write)")
        }
        guard publish else { return }
        let manifest = try study.loader()(LoadedStudy.overrides(best.params))
        let reporter = RunReporter(quiet: false, verbose: false)
        let summary = try await PipelineRunner(manifest: manifest, cache: study.cache, observer: reporter, options: RunOptions()).run()
        reporter.stop()
        if summary.failed { throw ExitCode(ExitStatus.stageFailed) }
        Terminal.error("published the outputs of trial \(best.number) (\(summary.ranCount) stages ran)")
    }

    /// The params as a YAML mapping, dotted paths nested (`model.dim` under `model:`).
    static func yaml(_ params: [String: JSONValue]) -> String {
        var tree: [String: JSONValue] = [:]
        for (path, value) in params {
            var parts = path.split(separator: ".").map(String.init)
            let last = parts.removeLast()
            func insert(_ object: [String: JSONValue], _ rest: ArraySlice<String>) -> [String: JSONValue] {
                var object = object
                if let key = rest.first {
                    object[key] = .object(insert(object[key]?.objectValue ?? [:], rest.dropFirst()))
                } else {
                    object[last] = value
                }
                return object
            }
            tree = insert(tree, parts[...])
        }
        func lines(_ object: [String: JSONValue], _ indent: String) -> String {
            object.keys.sorted().map { key in
                if let inner = object[key]?.objectValue { return "\(indent)\(key):\n" + lines(inner, indent + "  ") }
                return "\(indent)\(key): \(object[key]!.canonicalJSON)\n"
            }.joined()
        }
        return lines(tree, "")
    }
}
