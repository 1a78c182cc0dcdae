import Foundation
import PipeKit

/// `bpe-tokenize`: trains a byte-level BPE tokenizer on documents (or reuses a given
/// `tokenizer.json`) and encodes the documents into train/val/test token shards.
///
/// Training follows Hugging Face's `BpeTrainer`, so the vocabulary matches what `tokenizers`
/// learns from the same text; encoding gives ids identical to `tokenizers` loading our
/// `tokenizer.json`. Output is byte-identical whatever the thread count.
public struct BPETokenizeStage: Stage {
    public struct Params: Decodable, Sendable {
        var vocab_size: Int
        var min_frequency: Int
        var special_tokens: [String]
        var end_of_text: String
        var tokenizer: String?
        var splits: Splits
        var split_by: String
        var seed: Int
        var shard_tokens: Int
    }

    struct Splits: Decodable, Sendable {
        var train: Double
        var val: Double
        var test: Double
    }

    public static let name = "bpe-tokenize"
    public static let version = 1
    public static let summary = "Train a byte-level BPE tokenizer (Hugging Face compatible) and encode documents into token shards."
    public static let inputs = [
        StagePort("documents", .documents),
        StagePort("tokenizer", .tokenizer, optional: true, doc: "reuse this tokenizer (an earlier run's) instead of training one"),
    ]
    public static let outputs = [
        StagePort("tokenizer", .tokenizer, doc: "tokenizer.json + tokenizer_config.json"),
        StagePort("tokens", .tokens, doc: "train/val/test-NNNNN.bin (uint16 or uint32 LE) + meta.json"),
    ]
    public static let parameters = [
        ParamSpec("vocab_size", .int, default: .int(8192), doc: "tokens in the vocabulary, special and byte tokens included"),
        ParamSpec("min_frequency", .int, default: .int(2), doc: "a pair seen fewer times is never merged"),
        ParamSpec("special_tokens", .list(.string), default: .array([.string("<|endoftext|>")]), doc: "ids 0, 1, … in this order"),
        ParamSpec("end_of_text", .string, default: .string("<|endoftext|>"), doc: "special token written after every document"),
        ParamSpec("tokenizer", .string, default: .null, doc: "use this tokenizer.json (workspace path) instead of training"),
        ParamSpec("splits", .object([
            ParamSpec("train", .float, default: .double(0.9)),
            ParamSpec("val", .float, default: .double(0.05)),
            ParamSpec("test", .float, default: .double(0.05)),
        ]), default: .object([:]), doc: "fractions of documents (split_by: document) or tokens"),
        ParamSpec("split_by", .choice(["document", "tokens"]), default: .string("document"),
                  doc: "document: whole documents per split, seeded; tokens: contiguous token ranges"),
        ParamSpec("seed", .int, default: .int(0), doc: "seed of the document split"),
        ParamSpec("shard_tokens", .int, default: .int(1 << 25), doc: "tokens per shard file"),
    ]

    public static func externalInputs(_ p: Params) -> [ExternalInput] {
        p.tokenizer.map { [ExternalInput(path: $0)] } ?? []
    }

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.tokenizer == nil, p.vocab_size < 256 + p.special_tokens.count {
            problems.append(ParamProblem(["vocab_size"], "must be at least 256 byte tokens plus \(p.special_tokens.count) special tokens"))
        }
        if p.vocab_size > Int(Int32.max) { problems.append(ParamProblem(["vocab_size"], "is too large")) }
        if !p.special_tokens.contains(p.end_of_text) {
            problems.append(ParamProblem(["end_of_text"], "'\(p.end_of_text)' is not among special_tokens"))
        }
        if Set(p.special_tokens).count != p.special_tokens.count || p.special_tokens.contains("") {
            problems.append(ParamProblem(["special_tokens"], "must be distinct and non-empty"))
        }
        let s = p.splits
        for (name, v) in [("train", s.train), ("val", s.val), ("test", s.test)] where v < 0 || v > 1 {
            problems.append(ParamProblem(["splits", name], "must be between 0 and 1"))
        }
        if abs(s.train + s.val + s.test - 1) > 1e-6 {
            problems.append(ParamProblem(["splits"], "fractions add up to \(s.train + s.val + s.test), not 1"))
        }
        if s.train <= 0 { problems.append(ParamProblem(["splits", "train"], "must be above 0")) }
        if p.shard_tokens < 1024 { problems.append(ParamProblem(["shard_tokens"], "must be at least 1024")) }
        if p.min_frequency < 0 { problems.append(ParamProblem(["min_frequency"], "must not be negative")) }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let documents = try context.input("documents")
        let shards = documents.files.map(\.path).filter { $0.hasPrefix("part-") && $0.hasSuffix(".jsonl") }.sorted()
        guard !shards.isEmpty else { throw StageError("the documents artifact has no part-*.jsonl shards") }
        let threads = context.threads

        // Pass 1: count documents, and words when training.
        let given = context.optionalInput("tokenizer")
        if given != nil, p.tokenizer != nil { throw StageError("give the tokenizer as the input port or as the parameter, not both") }
        let training = p.tokenizer == nil && given == nil
        var documentCount = 0
        var textBytes = 0
        var counts = BPETrainer.WordCounts()
        let started = Date()
        var readBytes = 0
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let lines = DocumentLines(try documents.read(shard))
            documentCount += lines.lines.count
            readBytes += lines.data.count
            if training {
                let parts = lines.partitions(threads)
                let partial = try Parallel.map(parts.count) { k in
                    var local = BPETrainer.WordCounts()
                    var bytes = 0
                    try lines.forEachText(parts[k]) { text, _ in
                        local.add(text)
                        bytes += text.count
                    }
                    return (local, bytes)
                }
                for (local, bytes) in partial {
                    counts.add(local)
                    textBytes += bytes
                }
            }
            let rate = Double(readBytes) / 1e6 / max(Date().timeIntervalSince(started), 1e-9)
            context.progress(Double(n + 1) / Double(shards.count) * (training ? 0.3 : 0.05),
                             String(format: "counting shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        guard documentCount > 0 else { throw StageError("no documents to tokenize") }

        let model: BPEModel
        if let given {
            let folder = try given.materialize(into: context.scratch.appendingPathComponent("given-tokenizer"))
            model = try TokenizerFile.read(folder.appendingPathComponent("tokenizer.json"))
            context.log("using tokenizer \(given.id): \(model.vocabularySize) tokens, \(model.merges.count) merges")
        } else if let path = p.tokenizer {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : context.workspace.appendingPathComponent(path)
            model = try TokenizerFile.read(url)
            context.log("using \(path): \(model.vocabularySize) tokens, \(model.merges.count) merges")
        } else {
            let trainer = BPETrainer(vocabularySize: p.vocab_size, minFrequency: p.min_frequency, specialTokens: p.special_tokens)
            model = try trainer.train(counts) { done, total in
                context.progress(0.3 + 0.3 * Double(done) / Double(max(1, total)), "merge \(done)/\(total)")
            }
            let seconds = Date().timeIntervalSince(started)
            context.log(String(format: "trained %d merges on %d documents (%.1f MB, %d distinct words) in %.2f s",
                               model.merges.count, documentCount, Double(textBytes) / 1e6, counts.table.count, seconds))
            context.metric("tokenize.train_seconds", seconds)
        }
        guard let eot = model.specials.first(where: { $0.text == p.end_of_text })?.id else {
            throw StageError("the tokenizer has no special token '\(p.end_of_text)'")
        }
        counts = BPETrainer.WordCounts()

        let tokenizerFolder = try context.output("tokenizer")
        try TokenizerFile.write(model, to: tokenizerFolder.appendingPathComponent("tokenizer.json"))
        try TokenizerFile.writeConfig(model, endOfText: p.end_of_text, to: tokenizerFolder.appendingPathComponent("tokenizer_config.json"))

        // Pass 2: encode, in document order, into the splits.
        let tokensFolder = try context.output("tokens")
        let wide = model.vocabularySize > 65536
        let specialIds = Set(model.specials.map(\.id))
        let tokenBytes = model.tokens.enumerated().map { specialIds.contains(Int32($0.offset)) ? 0 : $0.element.count }
        let writers = ["train", "val", "test"].map {
            TokenShardWriter(split: $0, folder: tokensFolder, wide: wide, shardTokens: p.shard_tokens, tokenBytes: tokenBytes)
        }
        let assignment = p.split_by == "document"
            ? DocumentSplit(count: documentCount, fractions: [p.splits.train, p.splits.val, p.splits.test], seed: UInt64(p.seed))
            : nil
        let stream = p.split_by == "tokens" ? try TokenSpool(folder: context.scratch) : nil
        let encoders = (0..<threads).map { _ in Encoder(model: model) }
        let encodeStarted = Date()
        var documentIndex = 0
        var encodedBytes = 0
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let lines = DocumentLines(try documents.read(shard))
            let parts = lines.partitions(threads)
            let encoded = try Parallel.map(parts.count) { k in
                var ids: [Int32] = []
                var ends: [Int] = []
                try lines.forEachText(parts[k]) { text, _ in
                    encoders[k].encode(bytes: text, into: &ids)
                    ids.append(eot)
                    ends.append(ids.count)
                }
                return (ids, ends)
            }
            for (ids, ends) in encoded {
                var start = 0
                for end in ends {
                    let doc = ids[start..<end]
                    if let assignment {
                        try writers[assignment.split(of: documentIndex)].write(doc, document: true)
                    } else {
                        try stream!.append(doc)
                    }
                    start = end
                    documentIndex += 1
                }
            }
            encodedBytes += lines.data.count
            let rate = Double(encodedBytes) / 1e6 / max(Date().timeIntervalSince(encodeStarted), 1e-9)
            context.progress(0.6 + 0.4 * Double(n + 1) / Double(shards.count),
                             String(format: "encoding shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        if let stream {
            try stream.split(fractions: [p.splits.train, p.splits.val, p.splits.test], into: writers)
        }
        for w in writers { try w.close() }
        let encodeSeconds = Date().timeIntervalSince(encodeStarted)

        let totalTokens = writers.reduce(0) { $0 + $1.tokens }
        let totalBytes = writers.reduce(0) { $0 + $1.bytes }
        let totalDocuments = writers.reduce(0) { $0 + $1.documents }
        let bytesPerToken = Double(totalBytes) / Double(max(1, totalTokens - documentCount))
        var splits: [String: JSONValue] = [:]
        for w in writers {
            splits[w.split] = .object([
                "tokens": .int(Int64(w.tokens)), "bytes": .int(Int64(w.bytes)),
                "documents": .int(Int64(p.split_by == "document" ? w.documents : 0)),
                "files": .array(w.files.map(JSONValue.string)),
            ])
            context.metric("tokens.\(w.split)", Double(w.tokens))
        }
        let meta: JSONValue = .object([
            "vocab_size": .int(Int64(model.vocabularySize)),
            "dtype": .string(wide ? "uint32" : "uint16"),
            "end_of_text": .int(Int64(eot)),
            "split_by": .string(p.split_by),
            "seed": .int(Int64(p.seed)),
            "documents": .int(Int64(p.split_by == "document" ? totalDocuments : documentCount)),
            "bytes_per_token": .double(bytesPerToken),
            "splits": .object(splits),
        ])
        try meta.write(to: tokensFolder.appendingPathComponent("meta.json"))
        context.metric("tokenizer.vocab_size", Double(model.vocabularySize))
        context.metric("tokenizer.bytes_per_token", bytesPerToken)
        context.metric("tokenize.encode_mb_per_second", Double(encodedBytes) / 1e6 / max(encodeSeconds, 1e-9))
        context.log(String(format: "encoded %d documents into %d tokens (%.3f bytes/token) in %.2f s",
                           documentCount, totalTokens, bytesPerToken, encodeSeconds))
    }
}
