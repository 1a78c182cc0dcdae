import Foundation

/// Moves blocking work (file I/O, child processes, lock waits) off Swift's cooperative threads,
/// onto `BlockingThreads`.
enum Blocking {
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            BlockingThreads.shared.run { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// Threads for blocking calls, kept for the next call once theirs returns: a call takes an idle
/// thread, or starts one when none is idle, so blocking calls never wait for one another (one
/// may wait on a lock another holds) and a sweep does not start a thread per call.
final class BlockingThreads: @unchecked Sendable {
    static let shared = BlockingThreads()

    private let condition = NSCondition()
    private var pending: [@Sendable () -> Void] = []
    /// Threads waiting for work (some may have been signalled and not yet woken).
    private var idle = 0

    /// Runs `work` on an idle thread, or a new one.
    func run(_ work: @escaping @Sendable () -> Void) {
        condition.withLock {
            pending.append(work)
            if idle >= pending.count {
                condition.signal()
            } else {
                Thread.detachNewThread { [self] in serve() }
            }
        }
    }

    private func serve() {
        while true {
            let work: @Sendable () -> Void = condition.withLock {
                while pending.isEmpty {
                    idle += 1
                    condition.wait()
                    idle -= 1
                }
                return pending.removeFirst()
            }
            work()
        }
    }
}
