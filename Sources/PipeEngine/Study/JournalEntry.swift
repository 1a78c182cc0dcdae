import Foundation
import PipeKit

/// One line of a study's journal (`StudyJournal`): an event of one attempt at one trial.
///
/// `trial_started` claims trial `number` for an attempt (a process, `pid` on `host`) with its
/// params; the attempt's `heartbeat`s say it is alive, `intermediate` records a point of its
/// curve, and one of `trial_finished`, `pruned`, `failed`, `refused` ends the trial.
public struct JournalEntry: Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable {
        case study
        case trialStarted = "trial_started"
        case heartbeat
        case intermediate
        case trialFinished = "trial_finished"
        case pruned
        case failed
        case refused
    }

    public var event: Event
    public var number: Int = 0
    /// Which attempt at the trial wrote the line (a takeover starts a new attempt).
    public var attempt: String = ""
    /// Seconds since 1970 when the line was written.
    public var time: Double = 0
    public var params: [String: JSONValue]?
    public var pid: Int32?
    public var host: String?
    public var step: Int?
    public var value: Double?
    public var seconds: Double?
    /// Why a trial was pruned or refused, or what failed.
    public var message: String?
    /// On the line that ends a trial: the run keys of its stages that completed, by stage, which
    /// `pipe gc` keeps.
    public var keys: [String: String]?
    /// For `study`: the settings that fix the sequence of trials (metric, direction, space,
    /// sampler), so a study is not resumed under other settings.
    public var settings: JSONValue?

    public init(_ event: Event, number: Int, attempt: String, time: Double = Date().timeIntervalSince1970) {
        self.event = event
        self.number = number
        self.attempt = attempt
        self.time = time
    }

    /// Whether the entry ends its trial.
    var isTerminal: Bool { [.trialFinished, .pruned, .failed, .refused].contains(event) }

    /// Nil when the entry has what its event needs, with numbers in range; else what is wrong.
    var problem: String? {
        guard number >= 0, time.isFinite else { return "a trial number below 0 or a time that is not a number" }
        switch event {
        case .study: return settings == nil ? "a study line without settings" : nil
        case .trialStarted:
            return params == nil || pid == nil || host == nil ? "trial_started without params, pid or host" : nil
        case .heartbeat: return nil
        case .intermediate:
            guard let step, step >= 0, let value, value.isFinite else { return "intermediate without a step from 0 and a value" }
            return nil
        case .trialFinished:
            return value?.isFinite == true ? nil : "trial_finished without a value"
        case .pruned, .failed, .refused:
            return message == nil ? "\(event.rawValue) without a message" : nil
        }
    }
}
