/// SplitMix64: a small, fast, seedable generator with a fixed output sequence on every
/// platform, for seeded decisions (splits, sampling) that must never change between runs.
public struct SplitMix64: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A generator for one decision about `key` under `seed`, independent of visiting order.
    public static func keyed(_ key: String, seed: UInt64) -> SplitMix64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in key.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return SplitMix64(seed: seed ^ (h &* 0x9E3779B97F4A7C15))
    }
}
