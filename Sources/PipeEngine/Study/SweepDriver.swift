import Foundation
import PipeKit

/// Runs a study (`pipe sweep`): `parallel` workers here, each claiming a trial (`TrialClaim`),
/// running it (`TrialRun`) and writing how it ended, until every planned trial has ended. Other
/// `pipe sweep` processes on the same study share the work through the journal; a trial whose
/// process died is taken over.
public final class SweepDriver: @unchecked Sendable {
    /// Seconds between heartbeats, and without one after which another process takes a trial over.
    public static let heartbeatInterval = 5.0
    public static let staleAfter = 60.0

    public let block: SweepBlock
    public let journal: StudyJournal
    private let claim: TrialClaim
    private let trialRun: TrialRun
    private let say: @Sendable (String) -> Void
    private let cancelFlag = CancellationFlag()
    private let mutex = NSLock()
    private var runners: [Int: PipelineRunner] = [:]

    /// `load` loads the manifest with extra `--set` overrides; `options` are each trial's run
    /// options (its share of the threads, the executor); `say` prints a line per trial event.
    public init(block: SweepBlock, cache: Cache, options: RunOptions,
                load: @escaping @Sendable ([(String, String)]) throws -> Manifest,
                display: (any RunObserver)?, say: @escaping @Sendable (String) -> Void) throws {
        self.block = block
        journal = try StudyJournal(cache: cache, study: block.study)
        claim = TrialClaim(journal: journal, planned: block.trials, parallel: block.parallel, sampler: block.sampler,
                           staleAfter: Self.staleAfter, host: HostName.current, pid: getpid())
        trialRun = TrialRun(block: block, journal: journal, cache: cache, load: load, options: options, display: display)
        self.say = say
        try checkSettings(block.settings)
    }

    /// Starts the study's journal with its settings, or checks that they are the same.
    private func checkSettings(_ settings: JSONValue) throws {
        try journal.whileClaiming {
            try journal.repair()
            guard let recorded = try journal.state().settings else {
                var entry = JournalEntry(.study, number: 0, attempt: "")
                entry.settings = settings
                return try journal.append(entry)
            }
            guard recorded.canonicalJSON == settings.canonicalJSON else {
                throw StageError("the study '\(block.study)' was started with other settings (\(recorded.canonicalJSON)); "
                    + "its trials would not fit these. Give the sweep another 'study' name, or remove \(journal.folder.path)")
            }
        }
    }

    /// Stops the trials running here (Ctrl-C); they are taken over when the study resumes.
    public func cancel() {
        cancelFlag.set()
        mutex.withLock { runners.values.forEach { $0.cancel() } }
    }

    /// Runs trials until every planned one has ended (or the sweep is cancelled); the final state.
    public func run() async throws -> StudyState {
        let heartbeat = Heartbeat(journal: journal, interval: Self.heartbeatInterval)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<block.parallel {
                group.addTask { try await self.work(heartbeat) }
            }
            try await group.waitForAll()
        }
        let state = try journal.state()
        let skipped = journal.skippedLines
        if skipped > 0 { say(journal.skippedWarning(skipped)) }
        return state
    }

    private func work(_ heartbeat: Heartbeat) async throws {
        while !cancelFlag.isSet {
            switch try await Blocking.run({ [claim] in try claim.next() }) {
            case .done: return
            case .wait: try? await Task.sleep(nanoseconds: 200_000_000)  // cancelled: the loop stops at its check
            case .run(let trial):
                heartbeat.add(trial.number, attempt: trial.attempt)
                defer { heartbeat.remove(trial.number) }
                try await run(trial)
            }
        }
    }

    private func run(_ trial: StudyTrial) async throws {
        say("trial \(trial.number) started: " + Self.describe(trial.params))
        let started = Date()
        let (ending, keys) = await trialRun.run(trial) { runner in
            mutex.withLock { runners[trial.number] = runner }
            if cancelFlag.isSet { runner.cancel() }
        }
        mutex.withLock { runners[trial.number] = nil }
        let seconds = Date().timeIntervalSince(started)
        var entry: JournalEntry
        switch ending {
        case .interrupted: return
        case .finished(let value):
            entry = JournalEntry(.trialFinished, number: trial.number, attempt: trial.attempt)
            entry.value = value
            say("trial \(trial.number): \(block.metric) \(value) (\(String(format: "%.1f", seconds)) s)")
        case .pruned(let step, let reason):
            entry = JournalEntry(.pruned, number: trial.number, attempt: trial.attempt)
            entry.step = step
            entry.message = reason
            say("trial \(trial.number) \(reason)")
        case .failed(let message):
            entry = JournalEntry(.failed, number: trial.number, attempt: trial.attempt)
            entry.message = message
            say("trial \(trial.number) failed: \(message)")
        case .refused(let reason):
            entry = JournalEntry(.refused, number: trial.number, attempt: trial.attempt)
            entry.message = reason
            say("trial \(trial.number) refused: \(reason)")
        }
        entry.seconds = seconds
        entry.keys = keys.isEmpty ? nil : keys
        try journal.append(entry)
    }

    /// `lr=0.01 width=64`: a trial's params as `--set` would take them.
    public static func describe(_ params: [String: JSONValue]) -> String {
        params.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value.canonicalJSON)" }.joined(separator: " ")
    }
}
