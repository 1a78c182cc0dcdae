import Foundation
import PipeKit

/// Derives inputs from a corpus the way a mutation fuzzer does, reproducibly from a seed:
/// flipped bits, replaced, inserted or deleted byte runs, little-endian numbers that readers
/// trip over (0, -1, 2^31, 2^63...), and splices of two corpus files.
struct Mutator {
    private var generator: SplitMix64
    private let corpus: [Data]

    static let interestingNumbers: [UInt64] = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fff_ffff, 0x8000_0000,
                                               0xffff_ffff, 1 << 40, 0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, .max]

    init(seed: UInt64, corpus: [Data]) {
        generator = SplitMix64(seed: seed)
        self.corpus = corpus.isEmpty ? [Data()] : corpus
    }

    private mutating func random() -> UInt64 { generator.next() }

    private mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(random() % UInt64(n)) }

    mutating func next() -> Data {
        var bytes = [UInt8](corpus[below(corpus.count)])
        for _ in 0...below(4) { mutate(&bytes) }
        return Data(bytes)
    }

    private mutating func mutate(_ bytes: inout [UInt8]) {
        let at = below(bytes.count + 1)
        switch below(6) {
        case 0 where !bytes.isEmpty:
            bytes[min(at, bytes.count - 1)] ^= UInt8(1 << below(8))
        case 1 where !bytes.isEmpty:
            let end = min(bytes.count, at + 1 + below(16))
            for i in min(at, bytes.count - 1)..<end { bytes[i] = UInt8(truncatingIfNeeded: random()) }
        case 2:
            bytes.insert(contentsOf: (0..<1 + below(32)).map { _ in UInt8(truncatingIfNeeded: random()) }, at: at)
        case 3 where !bytes.isEmpty:
            bytes.removeSubrange(min(at, bytes.count - 1)..<min(bytes.count, at + 1 + below(64)))
        case 4:
            let number = Self.interestingNumbers[below(Self.interestingNumbers.count)]
            let width = [1, 2, 4, 8][below(4)]
            let encoded = (0..<width).map { UInt8(truncatingIfNeeded: number >> (8 * UInt64($0))) }
            let start = min(at, max(0, bytes.count - width))
            if start + width <= bytes.count { bytes.replaceSubrange(start..<start + width, with: encoded) } else { bytes += encoded }
        default:
            let other = [UInt8](corpus[below(corpus.count)])
            let cut = below(other.count + 1)
            bytes = Array(bytes[..<at]) + Array(other[cut...])
        }
    }
}
