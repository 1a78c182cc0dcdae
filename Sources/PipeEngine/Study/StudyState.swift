import Foundation
import PipeKit
import Sweep
#if canImport(Glibc)
import Glibc
#endif

/// One trial as the journal tells it: its params, its current attempt, its curve and how it ended.
public struct StudyTrial: Sendable {
    public var number: Int
    public var params: [String: JSONValue]
    public var status: TrialState
    /// The objective's value (complete trials).
    public var value: Double?
    /// The watched intermediate metric's points, of the current attempt.
    public var curve: [IntermediateValue]
    /// Why it was pruned or refused, or what failed.
    public var message: String?
    public var attempt: String
    public var pid: Int32
    public var host: String
    /// When the current attempt started, and when it last showed it was alive.
    public var started: Double
    public var lastSeen: Double
    /// How long the finishing attempt took.
    public var seconds: Double?
    /// The run keys of its stages that completed, by stage (once it ended).
    public var keys: [String: String] = [:]

    /// The trial as samplers and pruners read it.
    public var record: TrialRecord {
        TrialRecord(number: number, params: params, state: status, value: value, intermediate: curve)
    }
}

/// A study's state: the fold of its journal. A `trial_started` for a trial that has not ended
/// starts a new attempt (a takeover), which resets the curve; lines of other attempts than the
/// current one are ignored, so a slow former owner cannot finish a trial someone took over.
public struct StudyState: Sendable {
    /// Trials by number.
    public private(set) var trials: [Int: StudyTrial] = [:]
    /// The settings the study was started with (its first `study` line).
    public private(set) var settings: JSONValue?

    public init(_ entries: [JournalEntry]) {
        fold(entries)
    }

    /// Applies the entries that follow the ones already folded.
    mutating func fold(_ entries: [JournalEntry]) {
        for entry in entries { apply(entry) }
    }

    private mutating func apply(_ e: JournalEntry) {
        if e.event == .study {
            if settings == nil { settings = e.settings }
            return
        }
        if e.event == .trialStarted {
            if let existing = trials[e.number], existing.status != .running { return }
            trials[e.number] = StudyTrial(number: e.number, params: e.params ?? [:], status: .running, value: nil, curve: [],
                                          message: nil, attempt: e.attempt, pid: e.pid ?? 0, host: e.host ?? "",
                                          started: e.time, lastSeen: e.time, seconds: nil)
            return
        }
        guard var trial = trials[e.number], trial.status == .running, trial.attempt == e.attempt else { return }
        trial.lastSeen = max(trial.lastSeen, e.time)
        switch e.event {
        case .intermediate: trial.curve.append(IntermediateValue(step: e.step ?? 0, value: e.value ?? 0))
        case .trialFinished: trial.status = .complete
        case .pruned: trial.status = .pruned
        case .failed: trial.status = .failed
        case .refused: trial.status = .refused
        case .heartbeat, .study, .trialStarted: break
        }
        if e.isTerminal {
            trial.value = e.value
            trial.message = e.message
            trial.seconds = e.seconds
            trial.keys = e.keys ?? [:]
        }
        trials[e.number] = trial
    }

    /// The run keys the trials of every study in the cache completed: what `pipe gc` keeps for them.
    public static func runKeys(in cache: Cache) throws -> Set<String> {
        let folder = cache.root.appendingPathComponent("sweeps")
        guard FileManager.default.fileExists(atPath: folder.path) else { return [] }
        let studies: [String]
        do {
            studies = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            // Without the studies' keys, gc would delete their trials' runs: stop instead.
            throw StageError("cannot list the sweep studies in \(folder.path): \(FileSystem.reason(error))")
        }
        var keys = Set<String>()
        for study in studies where StudyJournal.isValidName(study) {
            guard let journal = try StudyJournal.existing(cache: cache, study: study) else { continue }
            for trial in StudyState(try journal.read().entries).trials.values { keys.formUnion(trial.keys.values) }
        }
        return keys
    }

    /// Trials in number order.
    public var ordered: [StudyTrial] { trials.values.sorted { $0.number < $1.number } }

    /// Whether every trial below `number` has ended.
    func allEnded(below number: Int) -> Bool {
        (0..<max(0, number)).allSatisfy { trials[$0].map { $0.status != .running } ?? false }
    }

    /// The lowest trial number nobody has claimed.
    var nextNumber: Int {
        var n = 0
        while trials[n] != nil { n += 1 }
        return n
    }

    /// A running trial whose process is gone: on `host`, its pid is dead; anywhere, it has not
    /// been seen for `staleAfter` seconds.
    func abandoned(now: Double, host: String, staleAfter: Double) -> StudyTrial? {
        ordered.first { trial in
            guard trial.status == .running else { return false }
            if trial.host == host && !Self.isAlive(trial.pid) { return true }
            return now - trial.lastSeen > staleAfter
        }
    }

    static func isAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
    }

    /// The complete trials, best first (ties: the earlier trial).
    public func best(_ direction: Direction) -> [StudyTrial] {
        trials.values.filter { $0.status == .complete && $0.value != nil }
            .sorted { a, b in a.value! == b.value! ? a.number < b.number : direction.isBetter(a.value!, than: b.value!) }
    }
}
