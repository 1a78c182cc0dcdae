/// An open-addressing hash map from pair keys (`left << 32 | right`) to values, with a
/// multiplicative hash: the hot lookup of BPE training and encoding, several times faster
/// than `Dictionary`'s seeded SipHash for 64-bit keys.
package struct PairMap<Value: Sendable>: Sendable {
    private static var empty: UInt64 { .max }
    private var keys: [UInt64]
    private var values: [Value]
    private var shift: UInt64
    private let fill: Value
    package private(set) var count = 0

    package init(capacity: Int = 1024, fill: Value) {
        var bits: UInt64 = 4
        while (1 << bits) < capacity * 2 { bits += 1 }
        keys = [UInt64](repeating: Self.empty, count: 1 << Int(bits))
        values = [Value](repeating: fill, count: 1 << Int(bits))
        shift = 64 - bits
        self.fill = fill
    }

    @inline(__always)
    private func slot(_ key: UInt64) -> Int { Int(truncatingIfNeeded: (key &* 0x9E3779B97F4A7C15) >> shift) }

    /// The value for `key`, or nil.
    @inline(__always)
    package func get(_ key: UInt64) -> Value? {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { return values[i] }
            if k == Self.empty { return nil }
            i = (i + 1) & mask
        }
    }

    /// Calls `update` on the value for `key`, starting from `fill` when absent.
    @inline(__always)
    package mutating func update(_ key: UInt64, _ update: (inout Value) -> Void) {
        let mask = keys.count - 1
        var i = slot(key)
        while true {
            let k = keys[i]
            if k == key { update(&values[i]); return }
            if k == Self.empty { break }
            i = (i + 1) & mask
        }
        keys[i] = key
        values[i] = fill
        update(&values[i])
        count += 1
        if count * 2 > keys.count { grow() }
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: Self.empty, count: oldKeys.count * 2)
        values = [Value](repeating: fill, count: oldKeys.count * 2)
        shift -= 1
        let mask = keys.count - 1
        for (k, v) in zip(oldKeys, oldValues) where k != Self.empty {
            var i = slot(k)
            while keys[i] != Self.empty { i = (i + 1) & mask }
            keys[i] = k
            values[i] = v
        }
    }
}
