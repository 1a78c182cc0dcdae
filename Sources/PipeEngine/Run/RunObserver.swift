import Foundation
import PipeKit

/// How a stage ended in a run.
public enum StageOutcome: Sendable {
    case ran(seconds: Double)
    case cached
    case failed(message: String, logTail: [String])
    case skipped(because: String)
    /// Asked to stop early while it ran (a sweep's pruner), with the reason: not a failure of
    /// the run, and nothing is cached.
    case stopped(reason: String)
    /// It refused its parameters before doing any work (`StageRefusal`: over the budget); a
    /// failure of the run.
    case refused(reason: String)

    public var label: String {
        switch self {
        case .ran: return "ran"
        case .cached: return "cached"
        case .failed: return "failed"
        case .skipped: return "skipped"
        case .stopped: return "stopped"
        case .refused: return "refused"
        }
    }

    /// Whether the stage failed the run (failed, or refused its parameters).
    public var isFailure: Bool {
        switch self {
        case .failed, .refused: return true
        case .ran, .cached, .skipped, .stopped: return false
        }
    }
}

/// Receives the events of a run, to show them (terminal, plain log, JSON).
public protocol RunObserver: Sendable {
    func started(_ stage: String, reasons: [StaleReason])
    func progress(_ stage: String, fraction: Double?, message: String)
    func log(_ stage: String, _ line: String)
    func warning(_ stage: String, _ message: String)
    /// An intermediate value the running stage reported (`val.loss` at `step`).
    func intermediate(_ stage: String, name: String, step: Int, value: Double)
    func finished(_ stage: String, _ outcome: StageOutcome)
}

/// Ignores run events (for planning commands and tests).
public struct SilentObserver: RunObserver {
    public init() {}
    public func started(_ stage: String, reasons: [StaleReason]) {}
    public func progress(_ stage: String, fraction: Double?, message: String) {}
    public func log(_ stage: String, _ line: String) {}
    public func warning(_ stage: String, _ message: String) {}
    public func intermediate(_ stage: String, name: String, step: Int, value: Double) {}
    public func finished(_ stage: String, _ outcome: StageOutcome) {}
}

/// Collects one running stage's log, metrics, curves and progress.
///
/// The log is capped: a plugin that prints gigabytes keeps its first and last lines and a
/// count of what was dropped.
final class StageEvents: StageEventSink, @unchecked Sendable {
    static let maxLogBytes = 8 << 20
    static let tailLines = 40

    private let stage: String
    private let observer: any RunObserver
    private let mutex = NSLock()
    private var logBytes = 0
    private var droppedBytes = 0
    private var logHead: [String] = []
    private var tail: [String] = []
    private(set) var metrics: [String: Double] = [:]
    private var curveList: [String: [MetricPoint]] = [:]
    private var warningList: [String] = []

    init(stage: String, observer: any RunObserver) {
        self.stage = stage
        self.observer = observer
    }

    func progress(fraction: Double?, message: String) {
        observer.progress(stage, fraction: fraction.map { min(1, max(0, $0)) }, message: message)
    }

    func log(_ line: String) {
        let line = line.utf8.count > 4096 ? String(decoding: line.utf8.prefix(4096), as: UTF8.self) + "…" : line
        mutex.withLock {
            if logBytes + line.utf8.count < Self.maxLogBytes {
                logBytes += line.utf8.count + 1
                logHead.append(line)
            } else {
                droppedBytes += line.utf8.count + 1
            }
            tail.append(line)
            if tail.count > Self.tailLines { tail.removeFirst(tail.count - Self.tailLines) }
        }
        observer.log(stage, line)
    }

    func metric(name: String, value: Double) {
        mutex.withLock { metrics[name] = value }
    }

    func report(name: String, step: Int, value: Double) {
        mutex.withLock { curveList[name, default: []].append(MetricPoint(step: step, value: value)) }
        observer.intermediate(stage, name: name, step: step, value: value)
    }

    /// Each intermediate metric's points in the order they were reported.
    var curves: [String: [MetricPoint]] { mutex.withLock { curveList } }

    func warn(_ message: String) {
        log("warning: " + message)
        mutex.withLock { warningList.append(message) }
        observer.warning(stage, message)
    }

    var warnings: [String] { mutex.withLock { warningList } }

    /// Takes in what the stage reported in another process (a detached job): its log lines
    /// (warnings already among them), metrics, curves and warnings.
    func absorb(log text: String, metrics reported: [String: Double], curves reportedCurves: [String: [MetricPoint]],
                warnings: [String]) {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast(text.hasSuffix("\n") ? 1 : 0) {
            log(String(line))
        }
        mutex.withLock {
            metrics.merge(reported) { $1 }
            curveList.merge(reportedCurves) { $1 }
            warningList += warnings
        }
        for warning in warnings { observer.warning(stage, warning) }
    }

    var logTail: [String] { mutex.withLock { tail } }

    /// The whole log as text (with a note where it was cut).
    var logText: String {
        mutex.withLock {
            var text = logHead.joined(separator: "\n")
            if droppedBytes > 0 {
                text += "\n[pipe: \(droppedBytes) bytes of log dropped; last lines follow]\n" + tail.joined(separator: "\n")
            }
            return text.isEmpty ? text : text + "\n"
        }
    }
}
