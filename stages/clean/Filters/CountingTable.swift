/// Counts 64-bit keys (hashes of lines, paragraphs, n-grams) with open addressing, remembering
/// where each key was first seen. Cleared in O(1) by a generation stamp and sized once per
/// counting pass, so one table serves every document a worker sees without allocating.
struct CountingTable {
    /// One slot: key, count, first position and generation side by side (one cache line).
    fileprivate struct Slot {
        var key: UInt64 = 0
        var count: Int32 = 0
        var first: Int32 = 0
        var stamp: UInt32 = 0
    }

    private var slots = [Slot](repeating: Slot(), count: 1024)
    private var generation: UInt32 = 1

    /// Adds keys during one counting pass.
    struct Inserter {
        fileprivate let slots: UnsafeMutablePointer<Slot>
        fileprivate let mask: Int
        fileprivate let generation: UInt32

        /// Adds one to `key`'s count (remembering `position` if it is new); returns the count before.
        @inline(__always)
        func add(_ key: UInt64, position: Int = 0) -> Int32 {
            var slot = Int(truncatingIfNeeded: key) & mask  // keys are mixed hashes
            while true {
                if slots[slot].stamp != generation {
                    slots[slot] = Slot(key: key, count: 1, first: Int32(truncatingIfNeeded: position), stamp: generation)
                    return 0
                }
                if slots[slot].key == key {
                    slots[slot].count += 1
                    return slots[slot].count - 1
                }
                slot = (slot + 1) & mask
            }
        }

        /// The count of `key` so far (0 when absent).
        @inline(__always)
        func count(of key: UInt64) -> Int32 {
            var slot = Int(truncatingIfNeeded: key) & mask
            while slots[slot].stamp == generation {
                if slots[slot].key == key { return slots[slot].count }
                slot = (slot + 1) & mask
            }
            return 0
        }
    }

    /// Empties the table, sizes it for at most `keys` distinct keys, and runs `body` with an
    /// inserter for this pass.
    mutating func counting<R>(atMost keys: Int, _ body: (Inserter) -> R) -> R {
        var size = slots.count
        while size < 2 * keys { size *= 2 }
        if size != slots.count {
            slots = [Slot](repeating: Slot(), count: size)
            generation = 0
        }
        generation &+= 1
        if generation == 0 {
            for i in slots.indices { slots[i].stamp = 0 }
            generation = 1
        }
        let generation = generation
        return slots.withUnsafeMutableBufferPointer { table in
            body(Inserter(slots: table.baseAddress!, mask: table.count - 1, generation: generation))
        }
    }

    /// The largest count of the last pass and the first position of its key; among keys with
    /// the same count, the one first seen.
    func mostFrequent() -> (count: Int32, position: Int) {
        var best: (count: Int32, position: Int32) = (0, 0)
        for slot in slots where slot.stamp == generation {
            if slot.count > best.count || slot.count == best.count && slot.first < best.position { best = (slot.count, slot.first) }
        }
        return (best.count, Int(best.position))
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
