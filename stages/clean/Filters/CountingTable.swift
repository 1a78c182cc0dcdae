/// Counts 64-bit keys (hashes of lines, paragraphs, n-grams) with open addressing. Cleared in
/// O(1) by a generation stamp. Each counting pass uses only as many slots as its keys need (a
/// power-of-two prefix of the storage, which grows to the largest pass seen), so one table
/// serves every document a worker sees without allocating, and a small document never touches
/// the slots a large one needed.
struct CountingTable {
    /// One slot: key, count and generation side by side (16 bytes, four to a cache line).
    fileprivate struct Slot {
        var key: UInt64 = 0
        var count: Int32 = 0
        var stamp: UInt32 = 0
    }

    private var slots = [Slot](repeating: Slot(), count: 1024)
    private var generation: UInt32 = 1

    /// Adds keys during one counting pass.
    struct Inserter {
        fileprivate let slots: UnsafeMutablePointer<Slot>
        fileprivate let mask: Int
        fileprivate let generation: UInt32

        /// Adds one to `key`'s count; returns the count before.
        @inline(__always)
        func add(_ key: UInt64) -> Int32 {
            var slot = Int(truncatingIfNeeded: key) & mask  // keys are mixed hashes
            while true {
                if slots[slot].stamp != generation {
                    slots[slot] = Slot(key: key, count: 1, stamp: generation)
                    return 0
                }
                if slots[slot].key == key {
                    slots[slot].count += 1
                    return slots[slot].count - 1
                }
                slot = (slot + 1) & mask
            }
        }

        /// Adds one to `key`'s count and returns its slot, whose count `count(atSlot:)` reads
        /// once the pass is done: a second pass over the same keys needs no probing.
        @inline(__always)
        func addReturningSlot(_ key: UInt64) -> Int32 {
            var slot = Int(truncatingIfNeeded: key) & mask
            while true {
                if slots[slot].stamp != generation {
                    slots[slot] = Slot(key: key, count: 1, stamp: generation)
                    return Int32(truncatingIfNeeded: slot)
                }
                if slots[slot].key == key {
                    slots[slot].count += 1
                    return Int32(truncatingIfNeeded: slot)
                }
                slot = (slot + 1) & mask
            }
        }

        /// The count held in a slot `addReturningSlot` returned during this pass.
        @inline(__always)
        func count(atSlot slot: Int32) -> Int32 { slots[Int(slot)].count }
    }

    /// Empties the table, sizes it for at most `keys` distinct keys, and runs `body` with an
    /// inserter for this pass.
    mutating func counting<R>(atMost keys: Int, _ body: (Inserter) -> R) -> R {
        var size = 1024
        while size < 2 * keys { size *= 2 }
        if size > slots.count {
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
            body(Inserter(slots: table.baseAddress!, mask: size - 1, generation: generation))
        }
    }
}

/// 64-bit hashes of byte ranges and of sequences of them.
enum ByteHash {
    /// Eight bytes per step; the last partial chunk is one masked load when the buffer has
    /// eight bytes from there, else it is gathered byte by byte.
    @inline(__always)
    static func hash(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(r.count)
        guard let base = s.baseAddress, !r.isEmpty else { return mix(h) }
        let raw = UnsafeRawPointer(base)
        var i = r.lowerBound
        while i + 8 <= r.upperBound {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9E37_79B9_7F4A_7C15
            h ^= h >> 29
            i += 8
        }
        let rest = r.upperBound - i
        var tail: UInt64 = 0
        if rest > 0 && i + 8 <= s.count {
            tail = raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) & (~0 >> UInt64(64 - 8 * rest))
        } else {
            for k in 0..<rest { tail |= UInt64(s[i + k]) << UInt64(8 * k) }
        }
        return mix(h ^ tail)
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
