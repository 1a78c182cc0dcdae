import Foundation
import PipeKit

/// Options of `pipe run`.
public struct RunOptions: Sendable {
    /// Stages to bring up to date (with what they need); empty means all.
    public var targets: [String] = []
    /// Stages to run even when fresh.
    public var force: Set<String> = []
    /// Keep running independent branches after a failure.
    public var keepGoing = false
    /// Stages running at once.
    public var jobs = ProcessInfo.processInfo.activeProcessorCount
    /// Threads shared by the running stages.
    public var threads = ProcessInfo.processInfo.activeProcessorCount
    /// Where stages run; nil takes the manifest's `executor:`, else local.
    public var executor: ExecutorKind?
    /// Copy outputs to their `publish:` paths (a sweep's trials only fill the cache).
    public var publish = true
    /// The lock file that records the stages' last keys; nil is the manifest's own.
    public var lockFile: URL?
    public init() {}
}

/// A stage's state before running: fresh, or stale with the reasons.
public struct StageStatus: Sendable {
    public enum State: String, Sendable { case fresh, stale, neverRun = "never run" }
    public var stage: String
    public var state: State
    public var reasons: [StaleReason]
    public var key: String?
}

/// One stage's line in the closing summary.
public struct StageReport: Sendable {
    public var stage: String
    public var outcome: StageOutcome
    public var seconds: Double
    public var key: String?
    /// Warnings the stage reported when it ran (also for a cached result).
    public var warnings: [String] = []
    /// The stage's outputs, when it ran or was reused: what its dependents read.
    public var outputs: [String: ArtifactTree]?
    /// Its metrics, when it ran or was reused.
    public var metrics: [String: Double] = [:]
    /// Its intermediate metrics as reported, also when it was stopped (partial curves).
    public var curves: [String: [MetricPoint]] = [:]
}

/// The result of `pipe run`.
public struct RunSummary: Sendable {
    public var reports: [StageReport]
    public var interrupted: Bool
    public var failed: Bool { reports.contains { $0.outcome.isFailure } }
    public var ranCount: Int { reports.filter { if case .ran = $0.outcome { return true } else { return false } }.count }
}

/// Brings a manifest's stages up to date: plans the graph, computes keys as upstream outputs
/// become known, reuses cached runs, and runs what is stale, several at once where the graph
/// allows.
public final class PipelineRunner: @unchecked Sendable {
    public let manifest: Manifest
    public let cache: Cache
    let observer: any RunObserver
    let options: RunOptions
    let keys: KeyBuilder
    let executor: any StageExecutor
    let lockWriter: LockFileWriter
    let cancelFlag = CancellationFlag()
    let stops = StageStops()
    /// When this runner was made: every stage it computes records it, so a report can tell what
    /// one `pipe run` computed from what it reused.
    let runStarted = Date()

    /// Problems with the pipeline's bookkeeping that the user should hear of (a corrupt lock file).
    public private(set) var notices: [String] = []

    public convenience init(manifest: Manifest, cache: Cache, observer: any RunObserver, options: RunOptions) throws {
        let executor: any StageExecutor
        switch options.executor ?? manifest.executor ?? .local {
        case .local: executor = LocalExecutor(cache: cache, workspace: manifest.workspace, manifest: manifest)
        case .slurm: executor = SlurmExecutor(cache: cache, manifest: manifest, threads: options.threads)
        }
        try self.init(manifest: manifest, cache: cache, observer: observer, options: options, executor: executor)
    }

    /// A runner whose stages run on `executor` (tests give a fake one).
    init(manifest: Manifest, cache: Cache, observer: any RunObserver, options: RunOptions, executor: any StageExecutor) throws {
        self.manifest = manifest
        self.cache = cache
        self.observer = observer
        self.options = options
        self.executor = executor
        keys = KeyBuilder(cache: cache, workspace: manifest.workspace)
        lockWriter = try LockFileWriter(url: options.lockFile ?? manifest.lockURL, cache: cache)
        if let corruption = lockWriter.corruption {
            notices.append("\(corruption); staleness reasons start afresh")
        }
    }

    /// Asks running stages to stop (Ctrl-C); nothing partial is cached.
    public func cancel() { cancelFlag.set() }

    /// Asks one running stage to stop early, giving the reason; it ends `.stopped` with its
    /// partial curves, nothing of it is cached, and its dependents are skipped. False when the
    /// stage is not running.
    @discardableResult
    public func stop(_ stage: String, reason: String) -> Bool { stops.stop(stage, reason: reason) }

    var plannedOrder: [String] {
        let all = manifest.stages.map(\.name)
        let targets = options.targets.isEmpty ? all : options.targets
        return Graph.closure(of: targets, order: all) { self.manifest.stage($0)?.dependencies ?? [] }
    }

    // MARK: - Status

    /// The planner over the lock as this run sees it and the cache's run records.
    func planner() -> Planner {
        Planner(lock: lockWriter.snapshot, forced: options.force) { [cache] key in
            do {
                guard let record = try cache.runs.load(key) else { return .none }
                return record.isComplete(in: cache.objects) ? .complete : .incomplete
            } catch {
                return .unreadable("\(error)")
            }
        }
    }

    /// Each planned stage's state, computing keys as far as fresh upstream runs make them known.
    public func status() -> [StageStatus] {
        let planner = planner()
        var outputs: [String: [String: ArtifactTree]] = [:]
        var result: [StageStatus] = []
        keys.prefetchProbes(plannedOrder.compactMap(manifest.stage))
        for name in plannedOrder {
            let stage = manifest.stage(name)!
            let decision: StageDecision
            if let stale = stage.inputs.values.first(where: { outputs[$0.stage] == nil }) {
                let lastParts = planner.lock.stages[name]?.parts
                decision = planner.decideWaiting(name, upstream: stale.stage,
                                                 partsWithoutInputs: lastParts.map { partsIgnoringInputs(stage, $0) })
            } else {
                do {
                    decision = planner.decide(name, parts: try keys.parts(for: stage, inputs: try inputTrees(of: stage, from: outputs)))
                } catch {
                    decision = .unknowable("\(error)")
                }
            }
            switch decision {
            case .fresh(let key):
                do {
                    outputs[name] = try cache.runs.load(key)?.outputs
                    result.append(StageStatus(stage: name, state: .fresh, reasons: [], key: key))
                } catch {
                    result.append(StageStatus(stage: name, state: .stale, reasons: [.recordUnreadable("\(error)")], key: key))
                }
            case .run(let key, let reasons, let neverRun):
                result.append(StageStatus(stage: name, state: neverRun ? .neverRun : .stale, reasons: reasons, key: key))
            case .waits(let reasons, let neverRun):
                result.append(StageStatus(stage: name, state: neverRun ? .neverRun : .stale, reasons: reasons, key: nil))
            case .unknowable(let why):
                result.append(StageStatus(stage: name, state: .stale, reasons: [.unknowable(why)], key: nil))
            }
        }
        cache.stats.save()
        return result
    }

    /// The current parts with the input ids of the last run, to show non-input differences.
    private func partsIgnoringInputs(_ stage: ManifestStage, _ old: KeyParts) -> KeyParts {
        guard var parts = try? keys.parts(for: stage, inputs: [:]) else { return old }
        parts.inputs = old.inputs
        return parts
    }

    // MARK: - Run

    public func run() async -> RunSummary {
        do {
            if let aside = try lockWriter.setAsideCorrupt() { notices.append("the corrupt lock file was kept as \(aside.path)") }
        } catch {
            notices.append("cannot set the corrupt lock file aside: \(error)")
        }
        cache.removeOrphans()
        let order = plannedOrder
        keys.prefetchProbes(order.compactMap(manifest.stage))
        var outputs: [String: [String: ArtifactTree]] = [:]
        var finished: [String: StageReport] = [:]
        var running = Set<String>()
        var stopLaunching = false

        await withTaskGroup(of: StageReport.self) { group in
            func launchReady() {
                for name in order where finished[name] == nil && !running.contains(name) {
                    guard running.count < max(1, options.jobs) else { return }
                    let stage = manifest.stage(name)!
                    let deps = stage.dependencies
                    guard deps.allSatisfy({ finished[$0] != nil }) else { continue }
                    if let blocker = deps.first(where: { dep in
                        switch finished[dep]!.outcome { case .failed, .skipped, .stopped, .refused: return true; default: return false }
                    }) {
                        let report = StageReport(stage: name, outcome: .skipped(because: "\(blocker) did not succeed"),
                                                 seconds: 0, key: nil)
                        finished[name] = report
                        observer.finished(name, report.outcome)
                        launchReady()
                        return
                    }
                    if stopLaunching || cancelFlag.isSet {
                        let report = StageReport(stage: name, outcome: .skipped(because: cancelFlag.isSet ? "interrupted" : "an earlier stage failed"),
                                                 seconds: 0, key: nil)
                        finished[name] = report
                        observer.finished(name, report.outcome)
                        continue
                    }
                    let inputs: [String: ArtifactTree]
                    do {
                        inputs = try inputTrees(of: stage, from: outputs)
                    } catch {
                        let report = StageReport(stage: name, outcome: .failed(message: "\(error)", logTail: []), seconds: 0, key: nil)
                        finished[name] = report
                        observer.finished(name, report.outcome)
                        if !options.keepGoing { stopLaunching = true }
                        continue
                    }
                    running.insert(name)
                    let threads = executor.threads(for: stage, share: max(1, options.threads / running.count))
                    group.addTask { await self.process(stage, inputs: inputs, threads: threads) }
                }
            }
            launchReady()
            while let report = await group.next() {
                running.remove(report.stage)
                finished[report.stage] = report
                if report.outcome.isFailure, !options.keepGoing { stopLaunching = true }
                if let produced = report.outputs { outputs[report.stage] = produced }
                launchReady()
            }
        }
        cache.stats.save()
        let reports = order.compactMap { finished[$0] }
        return RunSummary(reports: reports, interrupted: cancelFlag.isSet)
    }

    /// The artifacts a stage's inputs name, from its upstream stages' outputs.
    private func inputTrees(of stage: ManifestStage, from outputs: [String: [String: ArtifactTree]]) throws -> [String: ArtifactTree] {
        try stage.inputs.mapValues { ref in
            guard let tree = outputs[ref.stage]?[ref.output] else {
                throw StageError("input '\(ref.stage).\(ref.output)' of stage '\(stage.name)' is not among \(ref.stage)'s recorded outputs")
            }
            return tree
        }
    }

    /// The complete run record of `key`, if there is one; a corrupt record is reported as a
    /// warning and the stage runs again.
    private func reusableRecord(_ key: String, stage: String) -> RunRecord? {
        do {
            guard let record = try cache.runs.load(key), record.isComplete(in: cache.objects) else { return nil }
            return record
        } catch {
            observer.warning(stage, "\(error); the stage runs again")
            return nil
        }
    }

    /// Brings one stage up to date.
    private func process(_ stage: ManifestStage, inputs: [String: ArtifactTree], threads: Int) async -> StageReport {
        let started = Date()
        func report(_ outcome: StageOutcome, _ key: String?, warnings: [String] = [],
                    outputs: [String: ArtifactTree]? = nil, metrics: [String: Double] = [:],
                    curves: [String: [MetricPoint]] = [:]) -> StageReport {
            observer.finished(stage.name, outcome)
            return StageReport(stage: stage.name, outcome: outcome, seconds: Date().timeIntervalSince(started), key: key,
                               warnings: warnings, outputs: outputs, metrics: metrics, curves: curves)
        }
        let parts: KeyParts
        do {
            parts = try await Blocking.run { [keys] in try keys.parts(for: stage, inputs: inputs) }
        } catch {
            return report(.failed(message: "cannot compute the stage key: \(error)", logTail: []), nil)
        }
        let key = parts.key
        let forced = options.force.contains(stage.name)
        let reasons: [StaleReason]
        switch planner().decide(stage.name, parts: parts) {
        case .fresh:
            if let record = reusableRecord(key, stage: stage.name) { return finishCached(stage, record: record, report: report) }
            reasons = [.outputsMissing]  // collected between the decision and the read
        case .run(_, let why, _): reasons = why
        case .waits(let why, _): reasons = why
        case .unknowable(let why): return report(.failed(message: "cannot compute the stage key: \(why)", logTail: []), nil)
        }

        // One process computes a key at a time; a second waits, then reuses its result.
        let keyLock: FileLock
        do {
            keyLock = try cache.keyLock(key)
            try await Blocking.run { try keyLock.lock() }
        } catch {
            return report(.failed(message: "cannot lock the cache: \(error)", logTail: []), key)
        }
        defer { keyLock.unlock() }
        if !forced, let record = reusableRecord(key, stage: stage.name) {
            return finishCached(stage, record: record, report: report)
        }

        observer.started(stage.name, reasons: reasons)
        let events = StageEvents(stage: stage.name, observer: observer)
        let job = StageJob(stage: stage, parts: parts, key: key, inputs: inputs, threads: threads)
        do {
            // The stage runs in a task of its own, so that it alone can be stopped (`stop`).
            let flag = CancellationFlag(parent: cancelFlag)
            let work = Task { [executor] in try await executor.execute(job, events: events, cancel: flag) }
            stops.register(stage.name, flag: flag, task: work)
            defer { stops.unregister(stage.name) }
            let product = try await withTaskCancellationHandler { try await work.value } onCancel: { work.cancel() }
            let seconds = Date().timeIntervalSince(started)
            let logBlob = try storeLog(events.logText)
            let curves = events.curves
            let record = RunRecord(format: 1, key: key, stage: stage.name, uses: stage.uses, parts: parts,
                                   outputs: product.outputs, metrics: events.metrics, curves: curves.isEmpty ? nil : curves,
                                   log: logBlob, logTail: events.logTail,
                                   started: started, seconds: seconds, warnings: events.warnings.isEmpty ? nil : events.warnings,
                                   run: runStarted)
            try cache.runs.save(record)
            FileSystem.removeTree(cache.workFolder(key))
            try recordInLock(stage, record: record)
            return report(.ran(seconds: seconds), key, warnings: events.warnings, outputs: record.outputs,
                          metrics: record.metrics, curves: curves)
        } catch {
            if let reason = stops.reason(stage.name), !cancelFlag.isSet {
                return report(.stopped(reason: reason), key, warnings: events.warnings, metrics: events.metrics, curves: events.curves)
            }
            if error is CancellationError || cancelFlag.isSet { return report(.skipped(because: "interrupted"), nil) }
            if let refusal = error as? StageRefusal { return report(.refused(reason: refusal.reason), nil) }
            return report(.failed(message: FileSystem.describe(error), logTail: events.logTail), nil)
        }
    }

    private func finishCached(_ stage: ManifestStage, record: RunRecord,
                              report: (StageOutcome, String?, [String], [String: ArtifactTree]?, [String: Double],
                                       [String: [MetricPoint]]) -> StageReport) -> StageReport
    {
        do {
            try recordInLock(stage, record: record)
        } catch {
            return report(.failed(message: "\(error)", logTail: []), record.key, [], nil, [:], [:])
        }
        return report(.cached, record.key, record.warnings ?? [], record.outputs, record.metrics, record.curves ?? [:])
    }

    /// Writes the stage's entry in the lock file and publishes its outputs where asked.
    private func recordInLock(_ stage: ManifestStage, record: RunRecord) throws {
        let publisher = Publisher(cache: cache, workspace: manifest.workspace)
        let previous = lockWriter.snapshot.publishedCopies
        var published: [String: PipelineLock.Published] = [:]
        for (output, path) in stage.publish.sorted(by: { $0.key < $1.key }) where options.publish {
            guard let tree = record.outputs[output] else { continue }
            do {
                published[path] = try publisher.publish(tree, to: path, previous: previous[path])
            } catch {
                throw StageError("publishing failed: \(error)")
            }
        }
        let unchanged = lockWriter.snapshot.stages[stage.name].map {
            $0.key == record.key && ($0.published ?? [:]) == published
        } ?? false
        if unchanged { return }
        try lockWriter.update(stage.name) { entry in
            entry = PipelineLock.Entry(key: record.key, parts: record.parts, outputs: record.outputs.mapValues(\.id),
                                       published: published.isEmpty ? nil : published)
        }
    }

    private func storeLog(_ text: String) throws -> String? {
        guard !text.isEmpty else { return nil }
        let file = cache.root.appendingPathComponent("tmp/log-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        // A plain write: the store fsyncs its own copy, and this one is removed below.
        try FileSystem.makeDirectory(file.deletingLastPathComponent())
        try FileSystem.writeUnsynced(Data(text.utf8), to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        return try cache.objects.put(file: file).blob
    }
}
