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

extension Parallel {
    /// `[body(0), …, body(count-1)]` on at most `threads` threads (item i on thread i mod threads).
    public static func map<T>(_ count: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
        guard count > 0 else { return [] }
        let workers = max(1, min(threads, count))
        let chunks = try map(workers) { worker in
            try stride(from: worker, to: count, by: workers).map { ($0, try body($0)) }
        }
        var results = [T?](repeating: nil, count: count)
        for chunk in chunks { for (index, value) in chunk { results[index] = value } }
        return results.map { $0! }
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
