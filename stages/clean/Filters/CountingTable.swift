/// Counts 64-bit keys (hashes of lines, paragraphs, n-grams) with open addressing, remembering
/// the order keys were first seen. Cleared in O(1) by a generation stamp, so one table serves
/// every document a worker sees without allocating.
struct CountingTable {
    /// One slot: key, count and generation side by side, so a probe touches one cache line.
    private struct Slot {
        var key: UInt64 = 0
        var count: Int32 = 0
        var stamp: UInt32 = 0
    }

    private var slots = [Slot](repeating: Slot(), count: 1024)
    /// Slots in first-seen order.
    private(set) var order: [Int32] = []
    private var generation: UInt32 = 1

    mutating func clear() {
        order.removeAll(keepingCapacity: true)
        generation &+= 1
        if generation == 0 {
            for i in slots.indices { slots[i].stamp = 0 }
            generation = 1
        }
    }

    /// Adds one to `key`'s count and returns the count before.
    @inline(__always)
    mutating func add(_ key: UInt64) -> Int32 {
        if (order.count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        let generation = generation
        return slots.withUnsafeMutableBufferPointer { table in
            var slot = Int(truncatingIfNeeded: key) & mask  // keys are mixed hashes
            while true {
                if table[slot].stamp != generation {
                    table[slot] = Slot(key: key, count: 1, stamp: generation)
                    order.append(Int32(slot))
                    return 0
                }
                if table[slot].key == key {
                    table[slot].count += 1
                    return table[slot].count - 1
                }
                slot = (slot + 1) & mask
            }
        }
    }

    func count(atSlot slot: Int32) -> Int32 { slots[Int(slot)].count }

    private mutating func grow() {
        let live = order.map { slots[Int($0)] }
        slots = [Slot](repeating: Slot(), count: slots.count * 2)
        generation = 1
        order.removeAll(keepingCapacity: true)
        for old in live {
            _ = add(old.key)
            slots[Int(order.last!)].count = old.count
        }
    }
}

/// 64-bit hashes of byte ranges and of sequences of them.
enum ByteHash {
    @inline(__always)
    static func hash(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in r { h = (h ^ UInt64(s[i])) &* 0x0000_0100_0000_01B3 }
        return mix(h ^ UInt64(r.count))
    }

    @inline(__always)
    static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 { mix(a &* 0x9E37_79B9_7F4A_7C15 ^ b) }

    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
