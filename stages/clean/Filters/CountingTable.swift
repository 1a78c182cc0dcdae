/// Counts 64-bit keys (hashes of lines, paragraphs, n-grams) with open addressing, keeping the
/// position where each key was first added. Each counting pass uses only as many slots as its
/// keys need (a power-of-two prefix of the storage, which grows to the largest pass seen) and
/// empties just those, so one table serves every document a worker sees without allocating,
/// and a small document never touches the slots a large one needed.
struct CountingTable {
    /// One slot: key, count (0 when empty) and first position (16 bytes, four to a cache line).
    fileprivate struct Slot {
        var key: UInt64 = 0
        var count: Int32 = 0
        var first: Int32 = 0
    }

    private var slots = [Slot](repeating: Slot(), count: 64)

    /// Adds keys during one counting pass.
    struct Inserter {
        fileprivate let slots: UnsafeMutablePointer<Slot>
        fileprivate let mask: Int

        /// Adds one to `key`'s count; returns the count before and the position the key was
        /// first added at (`position` itself when it is new).
        @inline(__always)
        @discardableResult
        func add(_ key: UInt64, at position: Int32 = 0) -> (before: Int32, first: Int32) {
            var slot = Int(truncatingIfNeeded: key) & mask  // keys are mixed hashes
            while true {
                if slots[slot].count == 0 {
                    slots[slot] = Slot(key: key, count: 1, first: position)
                    return (0, position)
                }
                if slots[slot].key == key {
                    slots[slot].count += 1
                    return (slots[slot].count - 1, slots[slot].first)
                }
                slot = (slot + 1) & mask
            }
        }
    }

    /// Sizes the table for at most `keys` distinct keys, empties the slots this pass uses, and
    /// runs `body` with an inserter for the pass.
    mutating func counting<R>(atMost keys: Int, _ body: (Inserter) -> R) -> R {
        var size = 64
        while size < 2 * keys { size *= 2 }
        if size > slots.count { slots = [Slot](repeating: Slot(), count: size) }
        return slots.withUnsafeMutableBufferPointer { table in
            table.baseAddress!.update(repeating: Slot(), count: size)
            return body(Inserter(slots: table.baseAddress!, mask: size - 1))
        }
    }
}

/// 64-bit hashes of byte ranges and of sequences of them.
enum ByteHash {
    /// Eight bytes per step, then the last partial chunk as one word (`word(at:count:)`).
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
        return mix(h ^ s.word(at: i, count: r.upperBound - i))
    }

    /// `hash` of a range of fewer than eight bytes, given those bytes in `x` (little-endian,
    /// zero above them) and their count.
    @inline(__always)
    static func hash(short x: UInt64, count: Int) -> UInt64 { mix(0xCBF2_9CE4_8422_2325 ^ UInt64(count) ^ x) }

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

extension UnsafeBufferPointer where Element == UInt8 {
    /// The bytes `start..<start + count` (at most eight) as a little-endian word, zero above
    /// them: one masked load when eight bytes can be read from `start`, else gathered byte by
    /// byte (at the end of the buffer).
    @inline(__always)
    func word(at start: Int, count: Int) -> UInt64 {
        guard count > 0 else { return 0 }
        if start + 8 <= self.count {
            return UnsafeRawPointer(baseAddress! + start).loadUnaligned(as: UInt64.self) & (~0 >> UInt64(64 - 8 * count))
        }
        var x: UInt64 = 0
        for k in 0..<count { x |= UInt64(self[start + k]) << UInt64(8 * k) }
        return x
    }
}
