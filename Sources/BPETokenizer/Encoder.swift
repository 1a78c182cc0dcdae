import Foundation

/// Turns text into token ids with a BPE model, caching each distinct pre-token's ids.
///
/// One encoder per thread: the cache is not shared. Special tokens in the text are matched
/// first (as Hugging Face's added vocabulary does), then each stretch between them is
/// pre-tokenized and every pre-token looked up in the cache or merged.
package final class Encoder {
    package let model: BPEModel
    private var memo: Memo? = Memo()
    private let specialPatterns: [(bytes: [UInt8], id: Int32)]
    private let startsSpecial: [Bool]
    /// The first byte every special token shares, if they share one (`<` for `<|…|>`).
    private let commonLead: UInt8?
    private let cacheLimit: Int

    package init(model: BPEModel, cacheLimit: Int = 1 << 20) {
        self.model = model
        self.cacheLimit = cacheLimit
        specialPatterns = model.specials.map { (Array($0.text.utf8), $0.id) }.sorted { $0.bytes.count > $1.bytes.count }
        var starts = [Bool](repeating: false, count: 256)
        for p in specialPatterns where !p.bytes.isEmpty { starts[Int(p.bytes[0])] = true }
        startsSpecial = starts
        let leads = Set(specialPatterns.compactMap(\.bytes.first))
        commonLead = leads.count == 1 ? leads.first : nil
    }

    /// Appends the ids of `text` to `out`.
    package func encode(_ text: String, into out: inout [Int32]) {
        var text = text
        text.withUTF8 { encode(bytes: $0, into: &out) }
    }

    package func encode(bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        guard !specialPatterns.isEmpty else { return encodeOrdinary(bytes, into: &out) }
        var start = 0, i = 0
        let n = bytes.count
        while i < n {
            if let lead = commonLead {
                // Jump to the next byte that can start a special token.
                guard let hit = memchr(bytes.baseAddress! + i, Int32(lead), n - i) else { break }
                i = UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) - bytes.baseAddress!
            }
            if startsSpecial[Int(bytes[i])] {
                if let match = specialPatterns.first(where: { p in
                    p.bytes.count <= n - i && memcmp(bytes.baseAddress! + i, p.bytes, p.bytes.count) == 0
                }) {
                    encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[start..<i]), into: &out)
                    out.append(match.id)
                    i += match.bytes.count
                    start = i
                    continue
                }
            }
            i += 1
        }
        encodeOrdinary(UnsafeBufferPointer(rebasing: bytes[start..<n]), into: &out)
    }

    private func encodeOrdinary(_ bytes: UnsafeBufferPointer<UInt8>, into out: inout [Int32]) {
        guard !bytes.isEmpty else { return }
        // Work on a local copy (moved, not copied) so the hot loop has no exclusivity checks.
        var memo = self.memo.take()!
        defer { self.memo = memo }
        memo.encode(bytes, model: model, cacheLimit: cacheLimit, into: &out)
    }
}

/// The per-encoder cache of pre-token -> ids, bounded in entries (the encoder's
/// `cacheLimit`) and in bytes, so distinct long words cannot grow it without end.
private struct Memo {
    /// Bytes of cached words and ids at most.
    package static let maxBytes = 32 << 20

    package var cache = WordTable()
    package var cachedIds: [Int32] = []
    package var cachedStarts: [Int] = [0]
    package var scratch: [Int32] = []

    package mutating func encode(_ bytes: UnsafeBufferPointer<UInt8>, model: BPEModel, cacheLimit: Int, into out: inout [Int32]) {
        PreTokenizer.split(bytes) { start, end in
            let word = UnsafeBufferPointer(rebasing: bytes[start..<end])
            if word.count == 1 {
                out.append(model.byteIds[Int(word[0])])
                return
            }
            let h = WordTable.hash(word)
            if let index = cache.find(word, hash: h) {
                out.append(contentsOf: cachedIds[cachedStarts[index]..<cachedStarts[index + 1]])
                return
            }
            scratch.removeAll(keepingCapacity: true)
            model.encodeWord(word, into: &scratch)
            out.append(contentsOf: scratch)
            if cache.count < cacheLimit, cache.arena.count + 4 * cachedIds.count + word.count + 4 * scratch.count <= Self.maxBytes {
                _ = cache.insert(word, hash: h)
                cachedIds.append(contentsOf: scratch)
                cachedStarts.append(cachedIds.count)
            }
        }
    }
}
