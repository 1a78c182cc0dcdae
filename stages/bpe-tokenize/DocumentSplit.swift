import BPETokenizer
import Foundation
import PipeKit

/// Seeded assignment of documents to splits with exact counts: a shuffled index order, the
/// first `round(n·train)` documents to train, the next to val, the rest to test. A split asked
/// for (fraction > 0) gets at least one document when there are three or more.
struct DocumentSplit {
    private var labels: [UInt8]

    init(count n: Int, fractions: [Double], seed: UInt64) {
        var sizes = fractions.map { Int((Double(n) * $0).rounded()) }
        if n >= 3 { for k in 1..<sizes.count where fractions[k] > 0 && sizes[k] == 0 { sizes[k] = 1 } }
        sizes[0] = max(0, n - sizes[1...].reduce(0, +))
        var order = Array(0..<n)
        var rng = SplitMix64(seed: seed)
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            order.swapAt(i, j)
        }
        labels = [UInt8](repeating: 0, count: n)
        var position = 0
        for (split, size) in sizes.enumerated() {
            for _ in 0..<size where position < n {
                labels[order[position]] = UInt8(split)
                position += 1
            }
        }
    }

    func split(of document: Int) -> Int { Int(labels[document]) }
}

/// All token ids in order in a scratch file, for `split_by: tokens`, which needs the total
/// before it can cut contiguous ranges.
final class TokenSpool {
    private let url: URL
    private let handle: FileHandle
    private(set) var count = 0

    init(folder: URL) throws {
        url = folder.appendingPathComponent("tokens.spool")
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else { throw TokenizerError("cannot create \(url.path)") }
        handle = try FileHandle(forWritingTo: url)
    }

    func append(_ ids: ArraySlice<Int32>) throws {
        try ids.withUnsafeBytes { try handle.write(contentsOf: Data($0)) }
        count += ids.count
    }

    /// Writes [0, train·N) to the first writer, the next val·N to the second, the rest to the third.
    func split(fractions: [Double], into writers: [TokenShardWriter]) throws {
        try handle.close()
        let trainEnd = Int(Double(count) * fractions[0]), valEnd = trainEnd + Int(Double(count) * fractions[1])
        let bounds = [0, trainEnd, valEnd, count]
        let reader = try FileHandle(forReadingFrom: url)
        defer { try? reader.close() }
        for (k, writer) in writers.enumerated() {
            var remaining = bounds[k + 1] - bounds[k]
            while remaining > 0 {
                let take = min(remaining, 1 << 20)
                guard let data = try reader.read(upToCount: take * 4), data.count == take * 4 else {
                    throw TokenizerError("token spool ended early")
                }
                let ids = data.withUnsafeBytes { Array($0.bindMemory(to: Int32.self)) }
                try writer.write(ids[...], document: false)
                remaining -= take
            }
        }
    }
}
