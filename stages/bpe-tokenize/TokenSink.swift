import BPETokenizer
import Foundation
import PipeKit

/// Where encoded documents go, in document order: the tokenizer files, the train/val/test
/// token shards (a seeded document split, or contiguous token ranges through a spool), and
/// meta.json with the counts.
final class TokenSink {
    let endOfText: Int32
    private let p: BPETokenizeStage.Params
    private let model: BPEModel
    private let documentCount: Int
    private let writers: [TokenShardWriter]
    private let assignment: DocumentSplit?
    private let stream: TokenSpool?
    private let tokensFolder: URL
    private var documentIndex = 0

    init(_ p: BPETokenizeStage.Params, model: BPEModel, documents: Int, _ context: StageContext) throws {
        guard let eot = model.specials.first(where: { $0.text == p.end_of_text })?.id else {
            throw StageError("the tokenizer has no special token '\(p.end_of_text)'")
        }
        self.p = p
        self.model = model
        self.documentCount = documents
        endOfText = eot
        let tokenizerFolder = try context.output("tokenizer")
        try TokenizerFile.write(model, to: tokenizerFolder.appendingPathComponent("tokenizer.json"))
        try TokenizerFile.writeConfig(model, endOfText: p.end_of_text, to: tokenizerFolder.appendingPathComponent("tokenizer_config.json"))
        let tokensFolder = try context.output("tokens")
        self.tokensFolder = tokensFolder
        let wide = model.vocabularySize > 65536
        let specialIds = Set(model.specials.map(\.id))
        let tokenBytes = model.tokens.enumerated().map { specialIds.contains(Int32($0.offset)) ? 0 : $0.element.count }
        writers = ["train", "val", "test"].map {
            TokenShardWriter(split: $0, folder: tokensFolder, wide: wide, shardTokens: p.shard_tokens, tokenBytes: tokenBytes)
        }
        assignment = p.split_by == .document
            ? DocumentSplit(count: documents, fractions: [p.splits.train, p.splits.val, p.splits.test], seed: UInt64(p.seed))
            : nil
        stream = p.split_by == .tokens ? try TokenSpool(folder: context.scratch) : nil
    }

    /// The next document's ids (ending with the end-of-text id).
    func add(_ doc: ArraySlice<Int32>) throws {
        if let assignment {
            try writers[assignment.split(of: documentIndex)].write(doc, document: true)
        } else {
            try stream!.append(doc)
        }
        documentIndex += 1
    }

    /// Closes the shards and writes meta.json and the metrics.
    func finish(encodedBytes: Int, seconds: Double, _ context: StageContext) throws {
        guard documentIndex == documentCount else {
            throw StageError("encoded \(documentIndex) documents where \(documentCount) were counted")
        }
        if let stream {
            try stream.split(fractions: [p.splits.train, p.splits.val, p.splits.test], into: writers)
        }
        for w in writers { try w.close() }
        let totalTokens = writers.reduce(0) { $0 + $1.tokens }
        let totalBytes = writers.reduce(0) { $0 + $1.bytes }
        let totalDocuments = writers.reduce(0) { $0 + $1.documents }
        let bytesPerToken = Double(totalBytes) / Double(max(1, totalTokens - documentCount))
        var splits: [String: JSONValue] = [:]
        for w in writers {
            splits[w.split] = .object([
                "tokens": .int(Int64(w.tokens)), "bytes": .int(Int64(w.bytes)),
                "documents": .int(Int64(p.split_by == .document ? w.documents : 0)),
                "files": .array(w.files.map(JSONValue.string)),
            ])
            context.metric("tokens.\(w.split)", Double(w.tokens))
        }
        let meta: JSONValue = .object([
            "vocab_size": .int(Int64(model.vocabularySize)),
            "dtype": .string(model.vocabularySize > 65536 ? "uint32" : "uint16"),
            "end_of_text": .int(Int64(endOfText)),
            "split_by": p.split_by.paramJSON,
            "seed": .int(Int64(p.seed)),
            "documents": .int(Int64(p.split_by == .document ? totalDocuments : documentCount)),
            "bytes_per_token": .double(bytesPerToken),
            "splits": .object(splits),
        ])
        try meta.write(to: tokensFolder.appendingPathComponent("meta.json"))
        context.metric("tokenizer.vocab_size", Double(model.vocabularySize))
        context.metric("tokenizer.bytes_per_token", bytesPerToken)
        context.metric("tokenize.encode_mb_per_second", Double(encodedBytes) / 1e6 / max(seconds, 1e-9))
        context.log(String(format: "encoded %d documents into %d tokens (%.3f bytes/token) in %.2f s",
                           documentCount, totalTokens, bytesPerToken, seconds))
    }
}
