import Foundation
import PipeKit

/// Watches every job one run has in flight with a single `squeue` call per `interval`, however
/// many jobs there are: a thousand stages waiting at once cost slurmctld one request per cycle,
/// not a thousand.
final class SlurmMonitor: @unchecked Sendable {
    let interval: Double
    private let mutex = NSLock()
    private var watched = Set<String>()
    private var snapshot: [String: [Slurm.JobState]] = [:]
    private var taken = Date.distantPast

    init(interval: Double) { self.interval = interval }

    func watch(_ id: String) { mutex.withLock { _ = watched.insert(id) } }
    func forget(_ id: String) { mutex.withLock { _ = watched.remove(id) } }

    /// The job's states from a snapshot at most `interval` old (taking a new one if needed);
    /// nil once Slurm no longer knows the job.
    func states(_ id: String) throws -> [Slurm.JobState]? {
        try mutex.withLock {
            if Date().timeIntervalSince(taken) >= interval || snapshot[id] == nil {
                if let fresh = try Slurm.queueStates(watched.sorted()) {
                    snapshot = fresh
                } else {  // one of them is gone: ask each, so one purged job cannot hide the others
                    snapshot = [:]
                    for job in watched { snapshot[job] = try Slurm.states(job) }
                }
                taken = Date()
            }
            return snapshot[id]
        }
    }
}
