import Foundation
import PipeEngine
import PipeKit

/// Shows a run as it happens. On a TTY it redraws one live line per running stage (percent,
/// elapsed, ETA, the stage's latest intermediate metrics, its message); otherwise it prints
/// plain, rate-limited log lines, and a line for each intermediate metric reported.
final class RunReporter: RunObserver, @unchecked Sendable {
    private struct Live {
        var started = Date()
        var fraction: Double?
        var message = ""
        var lastPrinted = Date.distantPast
        var lastPrintedFraction = -1.0
        /// The latest value of each intermediate metric, with its step.
        var latest: [String: MetricPoint] = [:]
    }

    private let live: Bool
    private let quiet: Bool
    private let verbose: Bool
    private let mutex = NSLock()
    private var running: [String: Live] = [:]
    private var order: [String] = []
    private var drawnLines = 0
    private var timer: DispatchSourceTimer?

    init(quiet: Bool, verbose: Bool) {
        self.quiet = quiet
        self.verbose = verbose
        live = Terminal.isTTY && !quiet
        if live {
            let t = DispatchSource.makeTimerSource(queue: DispatchQueue.global())
            t.schedule(deadline: .now(), repeating: .milliseconds(150))
            t.setEventHandler { [weak self] in self?.redraw() }
            t.resume()
            timer = t
        }
    }

    func stop() {
        timer?.cancel()
        mutex.withLock { clearLive() }
    }

    func started(_ stage: String, reasons: [StaleReason]) {
        let why = reasons.map(\.description).joined(separator: "; ")
        mutex.withLock {
            running[stage] = Live()
            order.append(stage)
            emit("\(Terminal.color("▶", 36)) \(Terminal.bold(stage))  \(Terminal.dim(why))")
        }
    }

    func progress(_ stage: String, fraction: Double?, message: String) {
        mutex.withLock {
            guard var state = running[stage] else { return }
            state.fraction = fraction
            state.message = message
            if !live {
                let now = Date()
                let crossed = (fraction ?? 0) - state.lastPrintedFraction >= 0.1
                if now.timeIntervalSince(state.lastPrinted) >= 10 || crossed {
                    state.lastPrinted = now
                    state.lastPrintedFraction = fraction ?? state.lastPrintedFraction
                    emit(progressLine(stage, state))
                }
            }
            running[stage] = state
        }
    }

    func log(_ stage: String, _ line: String) {
        guard verbose else { return }
        mutex.withLock { emit(Terminal.dim("  \(stage) | ") + line) }
    }

    func intermediate(_ stage: String, name: String, step: Int, value: Double) {
        mutex.withLock {
            running[stage]?.latest[name] = MetricPoint(step: step, value: value)
            if !live { emit("  \(stage)  \(name) \(Self.format(value)) at step \(step)") }
        }
    }

    func warning(_ stage: String, _ message: String) {
        mutex.withLock { emit("\(Terminal.color("!", 33)) \(stage)  warning: \(message)") }
    }

    func finished(_ stage: String, _ outcome: StageOutcome) {
        mutex.withLock {
            running[stage] = nil
            order.removeAll { $0 == stage }
            switch outcome {
            case .ran(let seconds):
                emit("\(Terminal.color("✓", 32)) \(stage)  ran in \(Terminal.duration(seconds))")
            case .cached:
                if verbose { emit("\(Terminal.dim("·")) \(stage)  cached") }
            case .failed(let message, _):
                emit("\(Terminal.color("✗", 31)) \(stage)  failed: \(message)")
            case .skipped(let because):
                if because != "dry run" { emit("\(Terminal.color("-", 33)) \(stage)  skipped: \(because)") }
            case .stopped(let reason):
                emit("\(Terminal.color("■", 33)) \(stage)  stopped: \(reason)")
            case .refused(let reason):
                emit("\(Terminal.color("✗", 31)) \(stage)  refused: \(reason)")
            }
        }
    }

    private func progressLine(_ stage: String, _ state: Live) -> String {
        let elapsed = Date().timeIntervalSince(state.started)
        var parts = ["  \(stage)"]
        if let f = state.fraction {
            parts.append(String(format: "%3.0f%%", f * 100))
            if f > 0.01 && f < 1 { parts.append("ETA \(Terminal.duration(elapsed * (1 - f) / f))") }
        }
        parts.append(Terminal.duration(elapsed))
        for (name, point) in state.latest.sorted(by: { $0.key < $1.key }) {
            parts.append("\(name) \(Self.format(point.value)) @\(point.step)")
        }
        if !state.message.isEmpty { parts.append(state.message) }
        return parts.joined(separator: "  ")
    }

    /// An intermediate value with four significant digits.
    private static func format(_ value: Double) -> String { String(format: "%.4g", value) }

    /// Prints a permanent line above the live area.
    private func emit(_ line: String) {
        guard !quiet else { return }
        clearLive()
        FileHandle.standardError.write(Data((line + "\n").utf8))
        drawLive()
    }

    private func redraw() {
        mutex.withLock {
            clearLive()
            drawLive()
        }
    }

    private func clearLive() {
        guard live, drawnLines > 0 else { return }
        FileHandle.standardError.write(Data(String(repeating: "\u{1B}[1A\u{1B}[2K", count: drawnLines).utf8))
        drawnLines = 0
    }

    private func drawLive() {
        guard live, !order.isEmpty else { return }
        let width = 120
        var text = ""
        for stage in order {
            guard let state = running[stage] else { continue }
            var line = progressLine(stage, state)
            if let f = state.fraction {
                let filled = Int(f * 20)
                line = "  [" + String(repeating: "█", count: filled) + String(repeating: "░", count: 20 - filled) + "]" + line
            }
            text += String(line.prefix(width)) + "\n"
            drawnLines += 1
        }
        FileHandle.standardError.write(Data(text.utf8))
    }
}
