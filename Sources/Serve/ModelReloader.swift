import Foundation
import Synchronization

/// Swaps in a newer model while the server runs, without dropping a request: every `interval`
/// seconds it asks the supply for a newer model (loaded on this thread, while the current one
/// keeps answering), starts its engine and makes it the one new requests get. Requests already
/// running keep the model they started with; once nothing holds the old model any more (no
/// handler, no sequence in its engine), its engine stops and `ServedModel.retire` releases its
/// files. A failed check or load is reported on standard error and the current model stays.
final class ModelReloader: Sendable {
    private let state: ServerState
    private let newer: @Sendable () throws -> ServedModel?
    private let interval: Double
    private let stopped = Mutex(false)
    private let wake = NSCondition()

    init(state: ServerState, newer: @escaping @Sendable () throws -> ServedModel?, interval: Double) {
        self.state = state
        self.newer = newer
        self.interval = interval
    }

    /// Checks on a thread of its own until `stop`.
    func start() {
        Thread.detachNewThread { [self] in
            while waitForNextCheck() { check() }
        }
    }

    func stop() {
        stopped.withLock { $0 = true }
        wake.withLock { wake.broadcast() }
    }

    /// Sleeps for the interval; false once stopped.
    private func waitForNextCheck() -> Bool {
        let deadline = Date().addingTimeInterval(interval)
        wake.lock()
        defer { wake.unlock() }
        while !stopped.withLock({ $0 }), wake.wait(until: deadline) {}
        return !stopped.withLock { $0 }
    }

    private func check() {
        let model: ServedModel?
        do {
            model = try newer()
        } catch {
            FileHandle.standardError.write(Data("reload: \(error); still serving the previous model\n".utf8))
            return
        }
        guard let model else { return }
        model.engine.start()
        guard let replaced = state.replaceModel(with: model) else { return }
        let old = Retiring(replaced)
        state.metrics.modelReplaced()
        FileHandle.standardError.write(Data("reloaded \(model.name)\n".utf8))
        let metrics = state.metrics
        Thread.detachNewThread {
            old.waitUntilUnused()
            metrics.modelRetired()
        }
    }

    /// A replaced model, held only here: once this is the last reference to it, every request
    /// that took it has ended (its handler, its streaming response and its sequences in the
    /// engine each hold one) and no new request can take it, so its engine stops and its files
    /// go.
    private final class Retiring: @unchecked Sendable {
        private var model: ServedModel?

        init(_ model: ServedModel) { self.model = model }

        /// Polls every 20 ms until unused, then retires it.
        func waitUntilUnused() {
            while !isKnownUniquelyReferenced(&model) { usleep(20_000) }
            model?.engine.stop()
            model?.retire()
            model = nil
        }
    }
}
