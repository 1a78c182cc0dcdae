import Foundation

/// The stages of a run that are running now, so that one of them can be asked to stop early
/// (a sweep's pruner) with a reason: a built-in stage sees cancellation, a plugin's process group
/// gets SIGTERM through its own cancellation flag.
final class StageStops: @unchecked Sendable {
    private struct Running {
        var flag: CancellationFlag
        var task: Task<StageProduct, any Error>
    }

    private let mutex = NSLock()
    private var running: [String: Running] = [:]
    private var reasons: [String: String] = [:]

    func register(_ stage: String, flag: CancellationFlag, task: Task<StageProduct, any Error>) {
        mutex.withLock { running[stage] = Running(flag: flag, task: task) }
    }

    func unregister(_ stage: String) {
        _ = mutex.withLock { running.removeValue(forKey: stage) }
    }

    /// Asks `stage` to stop; false when it is not running (finished, or not started yet).
    func stop(_ stage: String, reason: String) -> Bool {
        guard let entry = mutex.withLock({ () -> Running? in
            guard let entry = running[stage], reasons[stage] == nil else { return nil }
            reasons[stage] = reason
            return entry
        }) else { return false }
        entry.flag.set()
        entry.task.cancel()
        return true
    }

    /// Why `stage` was asked to stop, if it was.
    func reason(_ stage: String) -> String? { mutex.withLock { reasons[stage] } }
}
