import PipeKit
import Support

/// Chooses the params of trial `number` from the trials it may see.
///
/// The answer depends only on the sampler's settings (space, seed), `number` and `history` —
/// never on wall time or on the order of calls — so a driver makes a parallel sweep reproducible
/// by giving each trial the history it is allowed to see. `history` holds one record per trial
/// number, in any order and of every state, the asking trial's included (it is ignored); nil
/// means there are no more trials to run.
public protocol Sampler: Sendable {
    func suggest(number: Int, history: [TrialRecord]) -> [String: JSONValue]?
}

extension SplitMix64 {
    /// The generator of one seeded decision (`stream`) of trial `number`.
    static func trial(_ number: Int, _ stream: String, seed: UInt64) -> SplitMix64 {
        keyed("\(number)/\(stream)", seed: seed)
    }
}
