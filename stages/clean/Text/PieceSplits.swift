/// The words of white-space-free pieces the affix rules have already split, found again by the
/// pieces' hashes. In documentation and code most such pieces recur (`foo()`, `(self,`, `>>>`;
/// on the conformance corpus 77% of the lookups find one), and a lookup costs a fraction of
/// running the rules again. One per word splitter: it is not safe to share.
///
/// A piece is known by its 64-bit hash (which covers its length) and its length, as the
/// repetition filter knows n-grams by their hashes: two different pieces would have to collide
/// in 64 bits among the at most 65,536 a splitter remembers (about one chance in 10^9 for a
/// full table). The bytes are not kept, so a hit costs two memory reads, the slot and the
/// entry, which holds the words' bounds itself. Pieces of up to 64 bytes and 11 words are
/// kept; when full the table empties and starts over.
final class PieceSplits {
    /// A remembered piece: its hash, then in 24 bytes its word count, its length and each
    /// word's (start, end) relative to the piece.
    private struct Entry {
        var hash: UInt64
        var packed: (UInt64, UInt64, UInt64)
    }

    static let maximumLength = 64
    private static let maximumWords = 11
    private static let capacity = 1 << 16
    private static let slotCount = 2 * capacity
    /// Entry index per slot, -1 when empty (open addressing, linear probing).
    private let slots = UnsafeMutablePointer<Int32>.allocate(capacity: slotCount)
    private let entries = UnsafeMutablePointer<Entry>.allocate(capacity: capacity)
    private var count = 0

    init() { slots.initialize(repeating: -1, count: Self.slotCount) }

    deinit {
        slots.deallocate()
        entries.deallocate()
    }

    /// Appends the remembered words of `piece` to `words`, if it is remembered.
    func lookup(_ piece: Range<Int>, hash: UInt64, into words: inout [Range<Int>]) -> Bool {
        var slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        while slots[slot] >= 0 {
            let entry = entries[Int(slots[slot])]
            if entry.hash == hash {
                return withUnsafeBytes(of: entry.packed) { b in
                    guard Int(b[1]) == piece.count else { return false }
                    for k in 0..<Int(b[0]) {
                        words.append((piece.lowerBound + Int(b[2 + 2 * k]))..<(piece.lowerBound + Int(b[3 + 2 * k])))
                    }
                    return true
                }
            }
            slot = (slot + 1) & (Self.slotCount - 1)
        }
        return false
    }

    /// Remembers that `piece` splits into `split` (absolute ranges inside it).
    func remember(_ piece: Range<Int>, hash: UInt64, _ split: ArraySlice<Range<Int>>) {
        guard piece.count <= Self.maximumLength, split.count <= Self.maximumWords else { return }
        if count == Self.capacity {
            slots.update(repeating: -1, count: Self.slotCount)
            count = 0
        }
        var slot = Int(truncatingIfNeeded: hash) & (Self.slotCount - 1)
        while slots[slot] >= 0 { slot = (slot + 1) & (Self.slotCount - 1) }
        var packed: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &packed) { b in
            b[0] = UInt8(split.count)
            b[1] = UInt8(piece.count)
            for (k, word) in split.enumerated() {
                b[2 + 2 * k] = UInt8(word.lowerBound - piece.lowerBound)
                b[3 + 2 * k] = UInt8(word.upperBound - piece.lowerBound)
            }
        }
        (entries + count).initialize(to: Entry(hash: hash, packed: packed))
        slots[slot] = Int32(count)
        count += 1
    }
}
