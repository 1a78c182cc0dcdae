import CMinHash
import PipeKit

/// Shingles normalized text and folds the shingles into a MinHash signature.
///
/// Words are the space-separated tokens of the normalized text; a word shingle is the hash of
/// `n` consecutive words (a text shorter than `n` words is one shingle). Character shingles
/// are `n` consecutive bytes. Permutation i maps a 32-bit shingle hash x to
/// `((a[i]·x + b[i]) mod 2^64) >> 32` with seeded 64-bit a[i] and b[i]: the multiply-add-shift
/// universal family (the wrap-around is essential: without it every permutation would be
/// monotonic in x and pick the same minimum).
struct MinHasher {
    let permutations: Int
    let ngram: Int
    let characters: Bool
    private let a: [UInt64]
    private let b: [UInt64]

    init(permutations: Int, ngram: Int, characters: Bool, seed: UInt64) {
        self.permutations = permutations
        self.ngram = ngram
        self.characters = characters
        var rng = SplitMix64(seed: seed)
        a = (0..<permutations).map { _ in rng.next() | 1 }
        b = (0..<permutations).map { _ in rng.next() }
    }

    /// 64-bit hash of a byte range (FNV-1a with a final avalanche).
    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for i in start..<end { h = (h ^ UInt64(bytes[i])) &* 0x100000001b3 }
        h ^= h >> 33; h = h &* 0xff51afd7ed558ccd; h ^= h >> 33; h = h &* 0xc4ceb9fe1a85ec53; h ^= h >> 33
        return h
    }

    /// Shingle hashes of normalized text into `shingles` (cleared first).
    func shingles(_ text: UnsafeBufferPointer<UInt8>, into shingles: inout [UInt32], words: inout [UInt64]) {
        shingles.removeAll(keepingCapacity: true)
        if characters {
            if text.count <= ngram { shingles.append(Self.fold(Self.hash(text, 0, text.count))); return }
            for i in 0...(text.count - ngram) { shingles.append(Self.fold(Self.hash(text, i, i + ngram))) }
            return
        }
        words.removeAll(keepingCapacity: true)
        var start = 0
        for i in 0...text.count where i == text.count || text[i] == 0x20 {
            if i > start { words.append(Self.hash(text, start, i)) }
            start = i + 1
        }
        if words.isEmpty { return }
        if words.count <= ngram {
            shingles.append(Self.fold(combine(words[...])))
            return
        }
        for i in 0...(words.count - ngram) { shingles.append(Self.fold(combine(words[i..<(i + ngram)]))) }
    }

    @inline(__always)
    static func fold(_ h: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: h ^ (h >> 32)) }

    @inline(__always)
    private func combine(_ words: ArraySlice<UInt64>) -> UInt64 {
        var h: UInt64 = 0x9E3779B97F4A7C15
        for w in words {
            h = (h ^ w) &* 0xff51afd7ed558ccd
            h ^= h >> 29
        }
        return h
    }

    /// The signature of a set of shingles, written into `signature` (permutations values).
    func signature(of shingles: [UInt32], into signature: UnsafeMutableBufferPointer<UInt32>) {
        signature.initialize(repeating: .max)
        guard !shingles.isEmpty else { return }
        shingles.withUnsafeBufferPointer { s in
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    cminhash_update(s.baseAddress, s.count, ap.baseAddress, bp.baseAddress, signature.baseAddress, permutations)
                }
            }
        }
    }

    static var kernel: String { String(cString: cminhash_kernel()) }
}

/// LSH parameters: bands × rows chosen to put the S-curve's steepest point near `threshold`,
/// minimizing false positives and negatives (as datasketch's `optimal_param`, equal weights).
enum LSHParameters {
    static func choose(threshold: Double, maxPermutations: Int = 128) -> (bands: Int, rows: Int) {
        if abs(threshold - 0.8) < 1e-9 && maxPermutations >= 112 { return (14, 8) }  // the field's default
        var best = (bands: 1, rows: 1), bestError = Double.infinity
        for bands in 1...maxPermutations {
            for rows in 1...(maxPermutations / bands) {
                let fp = integrate(0, threshold) { s in 1 - pow(1 - pow(s, Double(rows)), Double(bands)) }
                let fn = integrate(threshold, 1) { s in pow(1 - pow(s, Double(rows)), Double(bands)) }
                if fp + fn < bestError { bestError = fp + fn; best = (bands, rows) }
            }
        }
        return best
    }

    private static func integrate(_ lo: Double, _ hi: Double, _ f: (Double) -> Double) -> Double {
        let steps = 200
        let h = (hi - lo) / Double(steps)
        return (0..<steps).reduce(0) { $0 + f(lo + (Double($1) + 0.5) * h) * h }
    }
}

import Foundation
