import Dispatch

/// A fixed number of workers for the kernels: `run { w in … }` calls the body once per worker
/// index on its own thread and returns when all are done. Work is split statically by index, so
/// results depend only on the worker count, never on timing. BLAS runs single-threaded inside
/// each worker (see `BLAS.useSingleThread`), so no second pool competes for the cores.
public struct Workers: Sendable {
    public let count: Int

    public init(_ count: Int) { self.count = max(1, count) }

    public func run(_ body: (Int) -> Void) {
        if count == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            let shared = SharedBody(body)
            DispatchQueue.concurrentPerform(iterations: count) { shared.body($0) }
        }
    }

    /// The part of `0..<n` that worker `w` owns (contiguous, as equal as possible).
    public func range(_ w: Int, of n: Int) -> Range<Int> {
        (n * w / count)..<(n * (w + 1) / count)
    }

    /// Calls `body(range)` with each worker's part of `0..<n`, skipping empty parts.
    public func split(_ n: Int, _ body: (Range<Int>) -> Void) {
        run { w in
            let r = range(w, of: n)
            if !r.isEmpty { body(r) }
        }
    }
}

/// The kernels' closures capture raw pointers; each worker writes only its own part of them,
/// which is what makes handing the closure to other threads safe.
private struct SharedBody: @unchecked Sendable {
    let body: (Int) -> Void
    init(_ body: @escaping (Int) -> Void) { self.body = body }
}
