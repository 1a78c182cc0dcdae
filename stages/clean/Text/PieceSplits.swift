/// The words of white-space-free pieces the affix rules have already split, found again by the
/// pieces' bytes. In documentation and code most such pieces recur (`foo()`, `(self,`, `>>>`;
/// on the conformance corpus 82% of them repeat an earlier one), and a lookup costs a fraction
/// of running the rules again. Pieces of up to 64 bytes are kept, at most 65,536 of them; when
/// full it empties and starts over. One per word splitter: it is not safe to share.
final class PieceSplits {
    /// A remembered piece: its hash, where its bytes and its words' bounds start in the arenas.
    private struct Entry {
        var hash: UInt64
        var bytes: Int32
        var cuts: Int32
        var length: UInt8
        var words: UInt8
    }

    static let maximumLength = 64
    private static let capacity = 1 << 16
    private var slots = [Int32](repeating: -1, count: 2 * capacity)
    private var entries: [Entry] = []
    /// The remembered pieces' bytes, one after another.
    private var arena: [UInt8] = []
    /// Each remembered word's start and end, relative to its piece.
    private var cuts: [UInt8] = []

    /// Appends the remembered words of `piece` to `words`, if it is remembered.
    func lookup(_ s: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, hash: UInt64, into words: inout [Range<Int>]) -> Bool {
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        return slots.withUnsafeBufferPointer { slots in
            entries.withUnsafeBufferPointer { entries in
                while slots[slot] >= 0 {
                    let entry = entries[Int(slots[slot])]
                    if entry.hash == hash, Int(entry.length) == piece.count, sameBytes(entry, s, piece) {
                        cuts.withUnsafeBufferPointer { cuts in
                            for k in 0..<Int(entry.words) {
                                let at = Int(entry.cuts) + 2 * k
                                words.append((piece.lowerBound + Int(cuts[at]))..<(piece.lowerBound + Int(cuts[at + 1])))
                            }
                        }
                        return true
                    }
                    slot = (slot + 1) & mask
                }
                return false
            }
        }
    }

    /// Whether the remembered piece's bytes equal `piece`'s: eight bytes at a time, then the rest.
    @inline(__always)
    private func sameBytes(_ entry: Entry, _ s: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>) -> Bool {
        arena.withUnsafeBytes { a in
            let kept = a.baseAddress! + Int(entry.bytes), seen = UnsafeRawPointer(s.baseAddress! + piece.lowerBound)
            var i = 0
            while i + 8 <= piece.count {
                if kept.loadUnaligned(fromByteOffset: i, as: UInt64.self) != seen.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
                i += 8
            }
            while i < piece.count {
                if kept.load(fromByteOffset: i, as: UInt8.self) != seen.load(fromByteOffset: i, as: UInt8.self) { return false }
                i += 1
            }
            return true
        }
    }

    /// Remembers that `piece` splits into `split` (absolute ranges inside it).
    func remember(_ s: UnsafeBufferPointer<UInt8>, _ piece: Range<Int>, hash: UInt64, _ split: ArraySlice<Range<Int>>) {
        guard piece.count <= Self.maximumLength, split.count <= Int(UInt8.max) else { return }
        if entries.count == Self.capacity {
            entries.removeAll(keepingCapacity: true)
            arena.removeAll(keepingCapacity: true)
            cuts.removeAll(keepingCapacity: true)
            for i in slots.indices { slots[i] = -1 }
        }
        let mask = slots.count - 1
        var slot = Int(truncatingIfNeeded: hash) & mask
        while slots[slot] >= 0 { slot = (slot + 1) & mask }
        slots[slot] = Int32(entries.count)
        entries.append(Entry(hash: hash, bytes: Int32(arena.count), cuts: Int32(cuts.count),
                             length: UInt8(piece.count), words: UInt8(split.count)))
        arena.append(contentsOf: UnsafeBufferPointer(rebasing: s[piece]))
        for word in split {
            cuts.append(UInt8(word.lowerBound - piece.lowerBound))
            cuts.append(UInt8(word.upperBound - piece.lowerBound))
        }
    }
}
