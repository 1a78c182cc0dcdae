import BPETokenizer
import Foundation
import PipeKit

/// `bpe-tokenize`: trains a byte-level BPE tokenizer on documents (or reuses a given
/// `tokenizer.json`) and encodes the documents into train/val/test token shards.
///
/// Training follows Hugging Face's `BpeTrainer`, so the vocabulary matches what `tokenizers`
/// learns from the same text; encoding gives ids identical to `tokenizers` loading our
/// `tokenizer.json`. Output is byte-identical whatever the thread count.
public struct BPETokenizeStage: Stage {
    public struct Params: Parameters {
        @Param("tokens in the vocabulary, special and byte tokens included") var vocab_size = 8192
        @Param("a pair seen fewer times is never merged", range: .nonNegative) var min_frequency = 2
        @Param("ids 0, 1, … in this order") var special_tokens = ["<|endoftext|>"]
        @Param("special token written after every document") var end_of_text = "<|endoftext|>"
        @Param("use this tokenizer.json (workspace path) instead of training") var tokenizer: String? = nil
        @Param("fractions of documents (split_by: document) or tokens") var splits = Splits()
        @Param("document: whole documents per split, seeded; tokens: contiguous token ranges") var split_by = SplitBy.document
        @Param("seed of the document split") var seed = 0
        @Param("tokens per shard file", range: .atLeast(1024)) var shard_tokens = 1 << 25
        public init() {}
    }

    /// The share of the data in each split.
    struct Splits: Parameters {
        @Param("training share", range: .leftOpen(0, 1)) var train = 0.9
        @Param("validation share", range: .closed(0, 1)) var val = 0.05
        @Param("test share", range: .closed(0, 1)) var test = 0.05
    }

    /// What a split is made of.
    enum SplitBy: String, ParamChoice { case document, tokens }

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
        if abs(s.train + s.val + s.test - 1) > 1e-6 {
            problems.append(ParamProblem(["splits"], "fractions add up to \(s.train + s.val + s.test), not 1"))
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let documents = try context.input("documents")
        let shards = try ShardSpec.documentShardNames(context)
        guard !shards.isEmpty else { throw StageError("the documents artifact has no part-*.jsonl shards") }
        let threads = context.threads

        // Pass 1: count documents, and words when training.
        let training = try Self.givenTokenizer(p, context) == nil
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
        if let given = try Self.givenModel(p, context) {
            model = given
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
        counts = BPETrainer.WordCounts()
        let sink = try TokenSink(p, model: model, documents: documentCount, context)

        // Pass 2: encode, in document order, into the splits.
        let encodeStarted = Date()
        let encodedBytes = try Self.encode(shards, model: model, endOfText: sink.endOfText, context, progressFrom: 0.6) { try sink.add($0) }
        try sink.finish(encodedBytes: encodedBytes, seconds: Date().timeIntervalSince(encodeStarted), context)
    }

    /// The tokenizer to reuse, if one is given (the input port or the parameter, not both).
    static func givenTokenizer(_ p: Params, _ context: StageContext) throws -> String? {
        let port = context.optionalInput("tokenizer")
        if port != nil, p.tokenizer != nil { throw StageError("give the tokenizer as the input port or as the parameter, not both") }
        return port.map { "input \($0.id)" } ?? p.tokenizer
    }

    /// The given tokenizer, read; nil when the stage trains one.
    static func givenModel(_ p: Params, _ context: StageContext) throws -> BPEModel? {
        if let given = context.optionalInput("tokenizer") {
            let folder = try given.materialize(into: context.scratch.appendingPathComponent("given-tokenizer"))
            let model = try TokenizerFile.read(folder.appendingPathComponent("tokenizer.json"))
            context.log("using tokenizer \(given.id): \(model.vocabularySize) tokens, \(model.merges.count) merges")
            return model
        }
        guard let path = p.tokenizer else { return nil }
        let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : context.workspace.appendingPathComponent(path)
        let model = try TokenizerFile.read(url)
        context.log("using \(path): \(model.vocabularySize) tokens, \(model.merges.count) merges")
        return model
    }

    /// Encodes the documents of `shards` in order on all threads, handing each document's ids
    /// (with the end-of-text id) to `each`; returns the bytes read.
    static func encode(_ shards: [String], model: BPEModel, endOfText eot: Int32, _ context: StageContext, progressFrom: Double,
                       _ each: (ArraySlice<Int32>) throws -> Void) throws -> Int {
        let documents = try context.input("documents")
        let encoders = (0..<context.threads).map { _ in Encoder(model: model) }
        let started = Date()
        var encodedBytes = 0
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let lines = DocumentLines(try documents.read(shard))
            let parts = lines.partitions(context.threads)
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
                    try each(ids[start..<end])
                    start = end
                }
            }
            encodedBytes += lines.data.count
            let rate = Double(encodedBytes) / 1e6 / max(Date().timeIntervalSince(started), 1e-9)
            context.progress(progressFrom + (1 - progressFrom) * Double(n + 1) / Double(shards.count),
                             String(format: "encoding shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        return encodedBytes
    }
}
