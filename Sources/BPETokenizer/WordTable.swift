/// An open-addressing hash table from byte strings to dense indices 0, 1, 2, … in insertion
/// order. Keys live in one byte arena, so lookups allocate nothing.
package struct WordTable {
    private var slots: [Int32]          // index + 1, 0 = empty
    private var hashes: [UInt64] = []   // per index
    package private(set) var arena: [UInt8] = []
    package private(set) var starts: [Int] = [0]
    private var mask: Int

    package init(capacity: Int = 1 << 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
    }

    package var count: Int { starts.count - 1 }

    /// The bytes of word `index`.
    package func word(_ index: Int) -> ArraySlice<UInt8> { arena[starts[index]..<starts[index + 1]] }

    @inline(__always)
    package static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        // FNV-1a, then a final mix: keys are short, so this beats heavier hashes here.
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        h ^= h >> 33
        h = h &* 0xff51afd7ed558ccd
        h ^= h >> 33
        return h
    }

    /// The index of `bytes`, or nil.
    package func find(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> Int? {
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { return nil }
            let index = entry - 1
            if hashes[index] == h, equals(index, bytes) { return index }
            slot = (slot + 1) & mask
        }
    }

    /// The index of `bytes`, inserting it if new; `inserted` tells which.
    package mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, hash h: UInt64) -> (index: Int, inserted: Bool) {
        var slot = Int(truncatingIfNeeded: h) & mask
        while true {
            let entry = Int(slots[slot])
            if entry == 0 { break }
            let index = entry - 1
            if hashes[index] == h, equals(index, bytes) { return (index, false) }
            slot = (slot + 1) & mask
        }
        let index = count
        arena.append(contentsOf: bytes)
        starts.append(arena.count)
        hashes.append(h)
        slots[slot] = Int32(index + 1)
        if count * 2 > slots.count { grow() }
        return (index, true)
    }

    @inline(__always)
    private func equals(_ index: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = starts[index], length = starts[index + 1] - start
        guard length == bytes.count else { return false }
        return arena.withUnsafeBufferPointer { a in
            memcmp(a.baseAddress! + start, bytes.baseAddress!, length) == 0
        }
    }

    private mutating func grow() {
        let size = slots.count * 2
        slots = [Int32](repeating: 0, count: size)
        mask = size - 1
        for index in 0..<count {
            var slot = Int(truncatingIfNeeded: hashes[index]) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = Int32(index + 1)
        }
    }
}

import Foundation
