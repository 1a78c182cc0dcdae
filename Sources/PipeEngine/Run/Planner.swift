import Foundation
import PipeKit

/// Whether a stage is fresh, must run (and why), or waits for an upstream stage: the one rule
/// that `pipe run`, `pipe status`, `--dry-run` and sweeps share.
public enum StageDecision: Sendable, Equatable {
    /// A complete run of this key is cached: reuse it.
    case fresh(key: String)
    /// The key is known and nothing reusable is cached (or the stage is forced).
    case run(key: String, reasons: [StaleReason], neverRun: Bool)
    /// An upstream stage must run first, so the key is not known yet.
    case waits(reasons: [StaleReason], neverRun: Bool)
    /// The key cannot be computed (an unreadable external file, undecodable parameters).
    case unknowable(String)
}

/// What the cache holds for a key.
public enum CachedRun: Sendable, Equatable {
    case none
    /// A run record whose outputs are not all in the store.
    case incomplete
    case complete
    /// A run record that cannot be read, with the reason (its stage runs again).
    case unreadable(String)
}

/// Decides a stage's fate from what is known about it, with no side effects: the lock file's
/// entry (what ran last), the current key parts when they can be computed, and whether a
/// complete run of a key is cached.
public struct Planner: Sendable {
    public let lock: PipelineLock
    public let forced: Set<String>
    /// What the cache holds for a key.
    let cached: @Sendable (String) -> CachedRun

    public init(lock: PipelineLock, forced: Set<String>, cached: @escaping @Sendable (String) -> CachedRun) {
        self.lock = lock
        self.forced = forced
        self.cached = cached
    }

    /// The decision for a stage whose key parts are known.
    public func decide(_ stage: String, parts: KeyParts) -> StageDecision {
        let key = parts.key
        let isForced = forced.contains(stage)
        let run = cached(key)
        if run == .complete && !isForced { return .fresh(key: key) }
        let recorded = run != .none
        let missing: StaleReason
        if case .unreadable(let why) = run { missing = .recordUnreadable(why) } else { missing = .outputsMissing }
        let entry = lock.stages[stage]
        var reasons: [StaleReason] = isForced ? [.forced] : []
        if let entry {
            let differences = StaleReason.differences(from: entry.parts, to: parts)
            reasons += differences.isEmpty && !isForced ? [missing] : differences
        } else if !isForced {
            reasons.append(recorded ? missing : .neverRun)
        }
        return .run(key: key, reasons: reasons, neverRun: entry == nil && !recorded)
    }

    /// The decision for a stage whose input `upstream` will run first. `partsWithoutInputs` are
    /// its current parts with the last run's input ids, so that other changes are named too.
    public func decideWaiting(_ stage: String, upstream: String, partsWithoutInputs: KeyParts?) -> StageDecision {
        var reasons: [StaleReason] = forced.contains(stage) ? [.forced] : []
        reasons.append(.upstreamWillRun(upstream))
        let entry = lock.stages[stage]
        if let entry, let partsWithoutInputs {
            reasons += StaleReason.differences(from: entry.parts, to: partsWithoutInputs)
        }
        return .waits(reasons: reasons, neverRun: entry == nil)
    }
}
