import CXXHash
import Foundation
import PipeKit

/// `minhash-dedup`: removes exact duplicates (same normalized text), then near duplicates by
/// MinHash LSH, keeping one document per cluster.
///
/// Pass 1 streams the shards and keeps only a signature per document (4 bytes × bands × rows,
/// plus a few numbers), so memory grows with the document count, never with the text. LSH
/// candidate pairs are then confirmed (by default by the exact Jaccard of their shingle sets,
/// which reads the candidates again within a memory budget: `ExactVerifier`). The last pass
/// streams the shards and writes the kept documents unchanged, in their order.
public struct MinHashDedupStage: Stage {
    public struct Params: Parameters {
        @Param("shingle length in words (or characters)", range: .atLeast(1)) var ngram = 5
        @Param("word or character n-grams") var shingle = Shingle.words
        @Param("Jaccard similarity the LSH bands target (chooses bands × rows)", range: .leftOpen(0, 1)) var threshold = 0.8
        @Param("LSH bands (default: chosen from threshold; 14 for 0.8)", range: .atLeast(1)) var bands: Int? = nil
        @Param("rows per band (default: chosen from threshold; 8 for 0.8)", range: .atLeast(1)) var rows: Int? = nil
        @Param("how an LSH candidate pair is confirmed: exact Jaccard of the shingle sets (a second read of the candidates), estimated from the signatures, or none (every candidate counts, as in datatrove)")
        var verify = Verify.exact
        @Param("Jaccard a candidate pair needs under verify: pairs below it are chance LSH collisions", range: .closed(0, 1))
        var verify_threshold = 0.5
        @Param("verify: exact — memory for shingle sets; more candidates take more passes over the shards", range: .atLeast(1))
        var verify_memory_mb = 1024
        @Param("which document of a cluster survives: first in order, longest, or by source_priority") var keep = Keep.first
        @Param("keep: source — sources in order of preference") var source_priority: [String] = []
        @Param("lowercase, numbers to 0, no punctuation or diacritics, single spaces") var normalize = true
        @Param("seed of the hash permutations") var seed = 1
        @Param("bytes per output shard", range: .positive) var shard_bytes = 64 << 20
        public init() {}
    }

    /// What a shingle is made of.
    enum Shingle: String, ParamChoice { case words, chars }

    /// How a candidate pair is confirmed.
    enum Verify: String, ParamChoice { case none, estimated, exact }

    /// Which document of a cluster survives.
    enum Keep: String, ParamChoice { case first, longest, source }

    public static let name = "minhash-dedup"
    public static let version = 4
    public static let summary = "Remove exact and near-duplicate documents (MinHash LSH), keeping one per cluster."
    public static let inputs = [StagePort("documents", .documents)]
    public static let outputs = [
        StagePort("documents", .documents, doc: "the kept documents, unchanged and in order"),
        StagePort("clusters", .clusters, doc: "clusters.jsonl: each duplicate group, its kept id and the removed ids"),
        StagePort("stats", .metrics, doc: "metrics.json: documents and bytes in and out, duplicates removed"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if (p.bands == nil) != (p.rows == nil) { problems.append(ParamProblem(["bands"], "give bands and rows together, or neither")) }
        if let b = p.bands, let r = p.rows, b * r > 1024 {
            problems.append(ParamProblem(["bands"], "bands × rows must be between 1 and 1024"))
        }
        if p.keep == .source && p.source_priority.isEmpty {
            problems.append(ParamProblem(["source_priority"], "keep: source needs the sources in order of preference"))
        }
        return problems
    }

    public init() {}

    /// Bands, rows and the hasher these parameters ask for.
    static func hasher(_ p: Params) -> (bands: Int, rows: Int, hasher: MinHasher) {
        let (bands, rows) = p.bands.map { ($0, p.rows!) } ?? LSHParameters.choose(threshold: p.threshold)
        return (bands, rows, MinHasher(permutations: bands * rows, ngram: p.ngram, characters: p.shingle == .chars, seed: UInt64(p.seed)))
    }

    public func run(_ p: Params, _ context: StageContext) async throws {
        let shards = try ShardSpec.documentShardNames(context)
        let started = Date()
        let table = try signatures(p, shards: shards, context)
        try deduplicate(p, table, shards: shards, context)
        context.metric("dedup.mb_per_second", Self.megabytes(table) / max(Date().timeIntervalSince(started), 1e-9))
    }

    /// Pass 1: one signature, exact hash, length and source per document of `shards`.
    func signatures(_ p: Params, shards: [String], _ context: StageContext) throws -> SignatureTable {
        let input = try context.input("documents")
        let (bands, rows, hasher) = Self.hasher(p)
        let k = bands * rows
        context.log("MinHash: \(bands) bands × \(rows) rows, \(p.ngram)-\(p.shingle.rawValue) shingles, kernel \(MinHasher.kernel)")
        var table = SignatureTable(permutations: k)
        let started = Date()
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let lines = DocumentLines(try input.read(shard))
            let parts = lines.partitions(context.threads)
            let results = try Parallel.map(parts.count) { part -> ([UInt32], [UInt64], [Int], [Int16]) in
                var sigs = [UInt32](repeating: 0, count: parts[part].count * k)
                var hashes: [UInt64] = [], lens: [Int] = [], srcs: [Int16] = []
                let simplifier = TextSimplifier(), scratch = ShingleScratch()
                var source: [UInt8] = [], rowByExactHash: [UInt64: Int] = [:]
                var row = 0
                try lines.forEachText(parts[part]) { text, index in
                    let body = p.normalize ? simplifier.simplify(text) : text
                    let exact = XXH3_64bits(body.baseAddress, body.count)
                    sigs.withUnsafeMutableBufferPointer { all in
                        let signature = all.baseAddress! + row * k
                        if let earlier = rowByExactHash[exact] {
                            // An exact duplicate (the hash of its simplified text): the same signature.
                            signature.update(from: all.baseAddress! + earlier * k, count: k)
                        } else {
                            rowByExactHash[exact] = row
                            let count = hasher.shingles(body, into: scratch)
                            hasher.signature(of: scratch.shingles, count: count, into: signature)
                        }
                    }
                    hashes.append(exact)
                    lens.append(text.count)
                    if p.keep == .source {
                        source.removeAll(keepingCapacity: true)
                        _ = lines.withLine(index) { JSONLineScanner.stringField("source", in: $0, into: &source) }
                        let name = String(decoding: source, as: UTF8.self)
                        srcs.append(Int16(p.source_priority.firstIndex(of: name) ?? p.source_priority.count))
                    }
                    row += 1
                }
                return (sigs, hashes, lens, srcs)
            }
            for (sigs, hashes, lens, srcs) in results {
                table.signatures.append(contentsOf: sigs)
                table.exact.append(contentsOf: hashes)
                table.lengths.append(contentsOf: lens)
                table.sources.append(contentsOf: srcs)
            }
            table.bytesIn += lines.data.count
            let rate = Self.megabytes(table) / max(Date().timeIntervalSince(started), 1e-9)
            context.progress(0.6 * Double(n + 1) / Double(shards.count),
                             String(format: "signatures: shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        context.metric("dedup.signature_mb_per_second", Self.megabytes(table) / max(Date().timeIntervalSince(started), 1e-9))
        return table
    }

    /// Megabytes of document text (not JSON lines) in `table`: the measure of the throughput metrics.
    private static func megabytes(_ table: SignatureTable) -> Double { Double(table.lengths.reduce(0, +)) / 1e6 }

    /// Clusters the documents of `shards` (whose signatures `table` holds, in order) and writes
    /// the kept documents, the clusters and the counts.
    func deduplicate(_ p: Params, _ table: SignatureTable, shards: [String], _ context: StageContext) throws {
        let input = try context.input("documents")
        let (bands, rows, _) = Self.hasher(p)
        let k = bands * rows
        let signatures = table.signatures
        let exact = table.exact, lengths = table.lengths, sources = table.sources, bytesIn = table.bytesIn
        let count = exact.count
        guard count > 0 else { throw StageError("no documents to deduplicate") }

        // Exact duplicates, then LSH candidates confirmed by `verify`.
        var sets = UnionFind(count: count)
        var exactDuplicate = [Bool](repeating: false, count: count)
        var firstByHash: [UInt64: Int32] = [:]
        for i in 0..<count {
            if let first = firstByHash[exact[i]] {
                sets.union(Int(first), i)
                exactDuplicate[i] = true
            } else {
                firstByHash[exact[i]] = Int32(i)
            }
        }
        firstByHash = [:]
        var candidates: [CandidatePair] = []
        for band in 0..<bands {
            var buckets: [UInt64: (first: Int32, last: Int32)] = [:]
            for i in 0..<count where !exactDuplicate[i] {
                var h: UInt64 = 0xcbf29ce484222325 ^ UInt64(band)
                for j in (band * rows)..<((band + 1) * rows) { h = (h ^ UInt64(signatures[i * k + j])) &* 0x100000001b3 }
                if let bucket = buckets[h] {
                    candidates.append(CandidatePair(Int(bucket.first), i))
                    if p.verify != .none && bucket.last != bucket.first { candidates.append(CandidatePair(Int(bucket.last), i)) }
                    buckets[h] = (bucket.first, Int32(i))
                } else {
                    buckets[h] = (Int32(i), Int32(i))
                }
            }
            context.progress(0.6 + 0.05 * Double(band + 1) / Double(bands), "LSH band \(band + 1)/\(bands)")
        }
        candidates = Array(Set(candidates)).sorted()
        let accepted = try confirm(candidates, p, signatures: signatures, lengths: lengths, shards: shards, context)
        for (pair, ok) in zip(candidates, accepted) where ok { sets.union(pair.first, pair.second) }
        context.log("\(candidates.count) LSH candidate pairs, \(accepted.filter { $0 }.count) confirmed (verify: \(p.verify.rawValue))")

        // The survivor of each cluster.
        var keeper = [Int32](repeating: -1, count: count)
        var clusterSize = [Int32](repeating: 0, count: count)
        for i in 0..<count {
            let root = sets.find(i)
            clusterSize[root] += 1
            let current = Int(keeper[root])
            if current < 0 || better(i, than: current, policy: p.keep, lengths: lengths, sources: sources) { keeper[root] = Int32(i) }
        }

        // Pass 2: write the kept documents; collect ids of clustered ones.
        let writer = DocumentsWriter(folder: try context.output("documents"), shardBytes: p.shard_bytes)
        var clusterIds: [Int: [(Int, String)]] = [:]
        var index = 0
        var bytesOut = 0
        var id: [UInt8] = []
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let lines = DocumentLines(try input.read(shard))
            for line in 0..<lines.lines.count {
                let root = sets.find(index)
                try lines.withLine(line) { raw in
                    if Int(keeper[root]) == index {
                        try writer.write(rawLine: raw)
                        bytesOut += raw.count + 1
                    }
                    if clusterSize[root] > 1 {
                        id.removeAll(keepingCapacity: true)
                        _ = JSONLineScanner.stringField("id", in: raw, into: &id)
                        clusterIds[root, default: []].append((index, String(decoding: id, as: UTF8.self)))
                    }
                }
                index += 1
            }
            context.progress(0.8 + 0.2 * Double(n + 1) / Double(shards.count), "writing shard \(n + 1)/\(shards.count)")
        }
        try writer.close()

        var clusterLines: [UInt8] = []
        for (n, root) in clusterIds.keys.sorted().enumerated() {
            let members = clusterIds[root]!
            let kept = members.first { $0.0 == Int(keeper[root]) }!
            let removed = members.filter { $0.0 != kept.0 }.map { member -> JSONValue in
                .object(["id": .string(member.1), "kind": .string(exactDuplicate[member.0] ? "exact" : "near")])
            }
            let entry: JSONValue = .object(["cluster": .int(Int64(n)), "size": .int(Int64(members.count)),
                                            "kept": .string(kept.1), "removed": .array(removed)])
            clusterLines.append(contentsOf: Array((entry.canonicalJSON + "\n").utf8))
        }
        try Data(clusterLines).write(to: try context.output("clusters").appendingPathComponent("clusters.jsonl"))

        let exactRemoved = (0..<count).filter { exactDuplicate[$0] && Int(keeper[sets.find($0)]) != $0 }.count
        let removed = count - writer.count
        let stats: [String: Double] = [
            "dedup.documents_in": Double(count), "dedup.documents_out": Double(writer.count),
            "dedup.exact_removed": Double(exactRemoved), "dedup.near_removed": Double(removed - exactRemoved),
            "dedup.clusters": Double(clusterIds.count), "dedup.bytes_in": Double(bytesIn), "dedup.bytes_out": Double(bytesOut),
            "dedup.bands": Double(bands), "dedup.rows": Double(rows),
            "dedup.candidate_pairs": Double(candidates.count), "dedup.confirmed_pairs": Double(accepted.filter { $0 }.count),
        ]
        try JSONValue.object(stats.mapValues(JSONValue.double)).write(to: try context.output("stats").appendingPathComponent("metrics.json"))
        for (name, value) in stats { context.metric(name, value) }
        context.log("kept \(writer.count) of \(count) documents: \(exactRemoved) exact and \(removed - exactRemoved) near duplicates removed in \(clusterIds.count) clusters")
    }

    /// Which LSH candidate `pairs` are near duplicates under `p.verify`.
    private func confirm(_ pairs: [CandidatePair], _ p: Params, signatures: [UInt32], lengths: [Int], shards: [String],
                         _ context: StageContext) throws -> [Bool] {
        let (bands, rows, hasher) = Self.hasher(p)
        let k = bands * rows
        switch p.verify {
        case .exact:
            let input = try context.input("documents")
            let verifier = ExactVerifier(hasher: hasher, normalize: p.normalize, threshold: p.verify_threshold,
                                         budgetBytes: p.verify_memory_mb << 20)
            let (verdicts, passes) = try verifier.verify(pairs, lengths: lengths, shards: shards, threads: context.threads,
                                                         read: { DocumentLines(try input.read($0)) },
                                                         progress: { context.progress(0.65 + 0.15 * $0, $1) })
            let documents = Set(pairs.flatMap { [$0.first, $0.second] }).count
            context.log("exact Jaccard of \(pairs.count) candidate pairs (\(documents) documents) in \(passes) pass(es) over the shards")
            return verdicts
        case .estimated:
            return pairs.map { pair in
                var agree = 0
                for j in 0..<k where signatures[pair.first * k + j] == signatures[pair.second * k + j] { agree += 1 }
                return Double(agree) >= p.verify_threshold * Double(k)
            }
        case .none:
            return [Bool](repeating: true, count: pairs.count)
        }
    }

    /// Whether document `i` should survive instead of `j` under the keep policy.
    private func better(_ i: Int, than j: Int, policy: Keep, lengths: [Int], sources: [Int16]) -> Bool {
        switch policy {
        case .longest: return lengths[i] > lengths[j]
        case .source: return sources[i] < sources[j]
        case .first: return false  // indices arrive in order
        }
    }
}
