import CInferenceKernels
import Foundation
import Synchronization

/// A fixed team of threads for the forward pass: `run { w in … }` calls the body once per
/// member, on the caller's thread (member 0) and on persistent workers, and returns when all
/// are done. Workers spin briefly between jobs and then sleep, so a decode step with dozens of
/// products pays well under a microsecond per hand-off instead of a dispatch queue's several,
/// and an idle server uses no CPU. Work is split statically by member index.
final class ThreadTeam: @unchecked Sendable {
    let count: Int
    private let shared: Shared
    private var finished: [DispatchSemaphore] = []

    /// What the caller and the workers share; the workers hold it, not the team, so the team can
    /// stop them from its deinit.
    private final class Shared: @unchecked Sendable {
        /// Bumped once per job; a worker runs a job when it sees a generation it has not run.
        let generation = Atomic<Int>(0)
        /// Workers still running the current job.
        let running = Atomic<Int>(0)
        /// Workers asleep (or about to sleep) on `wakeUp`.
        let sleepers = Atomic<Int>(0)
        let stopping = Atomic<Bool>(false)
        let wakeUp = NSCondition()
        var job: ((Int) -> Void)?

        func wakeSleepers() {
            guard sleepers.load(ordering: .sequentiallyConsistent) > 0 else { return }
            wakeUp.lock()
            wakeUp.broadcast()
            wakeUp.unlock()
        }
    }

    /// Spins before a worker sleeps: some tens of microseconds.
    private static let spins = 20_000

    init(_ count: Int) {
        self.count = max(1, count)
        let shared = Shared()
        self.shared = shared
        for member in 1..<self.count {
            let done = DispatchSemaphore(value: 0)
            finished.append(done)
            let thread = Thread {
                Self.work(member, shared)
                done.signal()
            }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    deinit {
        shared.stopping.store(true, ordering: .sequentiallyConsistent)
        shared.generation.add(1, ordering: .sequentiallyConsistent)
        shared.wakeUp.lock()
        shared.wakeUp.broadcast()
        shared.wakeUp.unlock()
        for done in finished { done.wait() }
    }

    /// Calls `body(member)` for every member and waits for all of them.
    func run(_ body: (Int) -> Void) {
        if count == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            shared.job = body
            shared.running.store(count - 1, ordering: .sequentiallyConsistent)
            shared.generation.add(1, ordering: .sequentiallyConsistent)
            shared.wakeSleepers()
            body(0)
            while shared.running.load(ordering: .sequentiallyConsistent) > 0 { ik_cpu_relax() }
            shared.job = nil
        }
    }

    /// Calls `body(range)` with each member's contiguous share of `0..<n`, skipping empty shares.
    func split(_ n: Int, _ body: (Range<Int>) -> Void) {
        run { member in
            let r = share(member, of: n)
            if !r.isEmpty { body(r) }
        }
    }

    /// Member `member`'s share of `0..<n`.
    func share(_ member: Int, of n: Int) -> Range<Int> { (n * member / count)..<(n * (member + 1) / count) }

    private static func work(_ member: Int, _ shared: Shared) {
        var seen = 0
        while true {
            var spins = 0
            while shared.generation.load(ordering: .sequentiallyConsistent) == seen {
                spins += 1
                if spins < Self.spins { ik_cpu_relax(); continue }
                shared.wakeUp.lock()
                shared.sleepers.add(1, ordering: .sequentiallyConsistent)
                while shared.generation.load(ordering: .sequentiallyConsistent) == seen { shared.wakeUp.wait() }
                shared.sleepers.subtract(1, ordering: .sequentiallyConsistent)
                shared.wakeUp.unlock()
            }
            seen = shared.generation.load(ordering: .sequentiallyConsistent)
            if shared.stopping.load(ordering: .sequentiallyConsistent) { return }
            shared.job?(member)
            shared.running.subtract(1, ordering: .sequentiallyConsistent)
        }
    }
}
