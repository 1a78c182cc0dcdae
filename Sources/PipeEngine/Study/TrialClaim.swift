import Foundation
import PipeKit
import Sweep

/// What a sweep worker does next.
enum ClaimResult: Sendable {
    /// Run this trial (newly suggested, or taken over from a process that died).
    case run(StudyTrial)
    /// Nothing to claim now: wait for running trials (the reproducibility rule, or others' trials).
    case wait
    /// Every planned trial has ended.
    case done
}

/// Claims the study's next trial under its claim lock: first a trial whose process died (re-run
/// with the same params), else the next number, suggested from the trials that have ended below
/// `n - parallel + 1` only. Waiting for those makes trial n's params a function of the seed and
/// the results of trials 0...n-parallel, whatever the timing, so a study is reproducible.
struct TrialClaim: Sendable {
    let journal: StudyJournal
    /// How many trials to run (a grid also ends when the sampler has no more).
    let planned: Int
    let parallel: Int
    let sampler: any Sampler
    /// Seconds without a heartbeat after which a running trial is taken over.
    let staleAfter: Double
    let host: String
    let pid: Int32

    func next() throws -> ClaimResult {
        try journal.whileClaiming {
            try journal.repair()
            let state = try journal.state()
            if let lost = state.abandoned(now: Date().timeIntervalSince1970, host: host, staleAfter: staleAfter) {
                return .run(try start(lost.number, params: lost.params))
            }
            let number = state.nextNumber
            if number < planned {
                let cutoff = number - parallel + 1
                guard state.allEnded(below: cutoff) else { return .wait }
                if let params = sampler.suggest(number: number, history: state.ordered.filter { $0.number < cutoff }.map(\.record)) {
                    return .run(try start(number, params: params))
                }
            }
            return state.trials.values.contains { $0.status == .running } ? .wait : .done
        }
    }

    /// Appends the `trial_started` of a new attempt at trial `number`.
    private func start(_ number: Int, params: [String: JSONValue]) throws -> StudyTrial {
        var entry = JournalEntry(.trialStarted, number: number, attempt: Self.newAttempt())
        entry.params = params
        entry.pid = pid
        entry.host = host
        try journal.append(entry)
        return StudyTrial(number: number, params: params, status: .running, value: nil, curve: [], message: nil,
                          attempt: entry.attempt, pid: pid, host: host, started: entry.time, lastSeen: entry.time, seconds: nil)
    }

    static func newAttempt() -> String {
        String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }
}
