import Foundation
import PipeKit
import Sweep

/// How a trial ended, as its journal line says.
enum TrialEnding: Sendable {
    case finished(value: Double)
    case pruned(step: Int, reason: String)
    case failed(message: String)
    /// A stage refused the trial's params before running (over the objective's budget).
    case refused(reason: String)
    /// The sweep was interrupted: nothing is written, and the trial is taken over next time.
    case interrupted
}

/// Runs one trial: the manifest loaded with the trial's params as `--set` overrides, brought up
/// to date through the cache as far as the objective's stage needs, outputs not published.
/// The watched intermediate metric goes to the journal as it comes, and the pruner may stop the
/// stage that reports it.
struct TrialRun: Sendable {
    let block: SweepBlock
    let journal: StudyJournal
    let cache: Cache
    /// Loads the manifest with extra `--set` overrides.
    let load: @Sendable (_ overrides: [(String, String)]) throws -> Manifest
    /// Options for each trial's pipeline (threads, executor); targets and publishing are set here.
    let options: RunOptions
    /// Shows each trial's stage events (nil: quiet).
    let display: (any RunObserver)?

    /// How the trial ended, and the run keys of its stages that completed (ran or reused), by stage.
    func run(_ trial: StudyTrial, started: @Sendable (PipelineRunner) -> Void) async -> (TrialEnding, keys: [String: String]) {
        let manifest: Manifest
        do {
            manifest = try load(trial.params.sorted { $0.key < $1.key }.map { ($0.key, $0.value.canonicalJSON) })
        } catch {
            return (.failed(message: "\(error)"), [:])
        }
        var options = options
        options.targets = [block.metric.stage]
        options.publish = false
        options.lockFile = journal.folder.appendingPathComponent("trials.lock")
        let observer = TrialObserver(trial: trial, block: block, journal: journal, display: display)
        let runner: PipelineRunner
        do {
            runner = try PipelineRunner(manifest: manifest, cache: cache, observer: observer, options: options)
        } catch {
            return (.failed(message: "\(error)"), [:])
        }
        observer.runner = runner
        started(runner)
        let summary = await runner.run()
        var keys: [String: String] = [:]
        for report in summary.reports {
            switch report.outcome {
            case .ran, .cached: keys[report.stage] = report.key
            default: break
            }
        }
        return (ending(summary, observer: observer), keys)
    }

    private func ending(_ summary: RunSummary, observer: TrialObserver) -> TrialEnding {
        if summary.interrupted { return .interrupted }
        if let problem = observer.problem { return .failed(message: "cannot write the sweep journal: \(problem)") }
        if let pruned = observer.pruned, summary.reports.contains(where: { if case .stopped = $0.outcome { return true } else { return false } }) {
            return .pruned(step: pruned.step, reason: pruned.reason)
        }
        for report in summary.reports {
            if case .refused(let reason) = report.outcome { return .refused(reason: "stage '\(report.stage)' refused: \(reason)") }
            if case .failed(let message, _) = report.outcome { return .failed(message: "stage '\(report.stage)' failed: \(message)") }
        }
        guard let report = summary.reports.first(where: { $0.stage == block.metric.stage }) else {
            return .failed(message: "stage '\(block.metric.stage)' did not run")
        }
        guard let value = report.metrics[block.metric.name] else {
            let known = report.metrics.keys.sorted()
            return .failed(message: "stage '\(report.stage)' recorded no metric '\(block.metric.name)'"
                + (known.isEmpty ? " (it records none)" : " (it records \(known.joined(separator: ", ")))"))
        }
        return .finished(value: value)
    }
}

/// Watches one trial's run: appends its watched metric's points to the journal and asks the
/// pruner at each one; everything is passed on to `display`.
final class TrialObserver: RunObserver, @unchecked Sendable {
    private let mutex = NSLock()
    private var trial: StudyTrial
    private let block: SweepBlock
    private let journal: StudyJournal
    private let display: (any RunObserver)?
    weak var runner: PipelineRunner?
    /// Where and why the pruner stopped the trial.
    private(set) var pruned: (step: Int, reason: String)?
    /// The first journal write that failed.
    private(set) var problem: String?

    init(trial: StudyTrial, block: SweepBlock, journal: StudyJournal, display: (any RunObserver)?) {
        self.trial = trial
        self.block = block
        self.journal = journal
        self.display = display
    }

    func intermediate(_ stage: String, name: String, step: Int, value: Double) {
        display?.intermediate(stage, name: name, step: step, value: value)
        let watched = block.pruneMetric
        guard stage == watched.stage, name == watched.name else { return }
        var entry = JournalEntry(.intermediate, number: trial.number, attempt: trial.attempt)
        entry.step = step
        entry.value = value
        let current: StudyTrial = mutex.withLock {
            trial.curve.append(IntermediateValue(step: step, value: value))
            return trial
        }
        do {
            try journal.append(entry)
            guard let pruner = block.pruner, mutex.withLock({ pruned == nil }) else { return }
            let others = try journal.state().ordered.filter { $0.number != current.number }.map(\.record)
            guard pruner.shouldPrune(trial: current.record, step: step, others: others, direction: block.direction) else { return }
            let reason = "pruned at step \(step) (\(watched) \(value))"
            mutex.withLock { pruned = (step, reason) }
            runner?.stop(stage, reason: reason)
        } catch {
            mutex.withLock { if problem == nil { problem = "\(error)" } }
        }
    }

    func started(_ stage: String, reasons: [StaleReason]) { display?.started(stage, reasons: reasons) }
    func progress(_ stage: String, fraction: Double?, message: String) { display?.progress(stage, fraction: fraction, message: message) }
    func log(_ stage: String, _ line: String) { display?.log(stage, line) }
    func warning(_ stage: String, _ message: String) { display?.warning(stage, message) }
    func finished(_ stage: String, _ outcome: StageOutcome) { display?.finished(stage, outcome) }
}
