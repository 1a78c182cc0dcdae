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

    /// The shingle hashes of simplified text, in `scratch.shingles[0..<returned count]`. Words
    /// and byte n-grams are hashed eight bytes at a time (`cminhash_bytes`).
    func shingles(_ text: UnsafeBufferPointer<UInt8>, into scratch: ShingleScratch) -> Int {
        let n = text.count
        if characters {
            scratch.reserve(shingles: max(1, n - ngram + 1), words: 0)
            return cminhash_byte_shingles(text.baseAddress, n, ngram, scratch.shingles)
        }
        scratch.reserve(shingles: (n + 1) / 2, words: (n + 1) / 2)
        let words = cminhash_words(text.baseAddress, n, scratch.words)
        return cminhash_word_shingles(scratch.words, words, ngram, scratch.shingles)
    }

    /// The signature of `count` shingles, written into `signature` (permutations values).
    func signature(of shingles: UnsafePointer<UInt32>, count: Int, into signature: UnsafeMutablePointer<UInt32>) {
        signature.initialize(repeating: .max, count: permutations)
        guard count > 0 else { return }
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                cminhash_update(shingles, count, ap.baseAddress, bp.baseAddress, signature, permutations)
            }
        }
    }

    static var kernel: String { String(cString: cminhash_kernel()) }
}

/// A worker's reusable buffers for word hashes and shingle hashes.
final class ShingleScratch {
    private(set) var words: UnsafeMutablePointer<UInt64> = .allocate(capacity: 1)
    private(set) var shingles: UnsafeMutablePointer<UInt32> = .allocate(capacity: 1)
    private var sortBuffer: UnsafeMutablePointer<UInt32> = .allocate(capacity: 1)
    private var wordCapacity = 1, shingleCapacity = 1

    deinit {
        words.deallocate()
        shingles.deallocate()
        sortBuffer.deallocate()
    }

    /// Sorts the first `count` shingles and drops repeats: the shingle set, valid until the
    /// next use of this scratch.
    func shingleSet(count: Int) -> UnsafeBufferPointer<UInt32> {
        precondition(count <= shingleCapacity, "shingleSet: \(count) shingles were never reserved")
        return UnsafeBufferPointer(start: shingles, count: cminhash_sorted_set(shingles, sortBuffer, count))
    }

    func reserve(shingles needed: Int, words neededWords: Int) {
        if needed > shingleCapacity {
            shingleCapacity = needed * 2
            shingles.deallocate()
            shingles = .allocate(capacity: shingleCapacity)
            sortBuffer.deallocate()
            sortBuffer = .allocate(capacity: shingleCapacity)
        }
        if neededWords > wordCapacity {
            wordCapacity = neededWords * 2
            words.deallocate()
            words = .allocate(capacity: wordCapacity)
        }
    }
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
