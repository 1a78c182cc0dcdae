import Foundation

/// Data parallelism on all cores with `DispatchQueue.concurrentPerform`, results in order.
public enum Parallel {
    /// `[body(0), body(1), …, body(count-1)]`, computed concurrently; the first error (by index) is rethrown.
    public static func map<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let results = UnsafeSlots<Result<T, Error>>(count)
        try withoutActuallyEscaping(body) { body in
            let work = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: count) { k in
                results.set(k, Result { try work.value(k) })
            }
        }
        return try (0..<count).map { try results.get($0).get() }
    }
}

/// A value passed across threads where the caller guarantees there is no shared mutation.
struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Fixed slots written by distinct threads (one slot each), read after they finish.
final class UnsafeSlots<T>: @unchecked Sendable {
    private var values: [T?]
    private let lock = NSLock()
    init(_ count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ k: Int, _ value: T) { lock.withLock { values[k] = value } }
    func get(_ k: Int) -> T { lock.withLock { values[k]! } }
}
