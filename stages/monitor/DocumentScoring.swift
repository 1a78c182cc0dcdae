import PipeKit
import TokenScoring

/// A model's loss on each document of one side: the documents joined into one token stream
/// (each followed by the end-of-text id when there is one, as `bpe-tokenize` writes them),
/// scored with evaluate's sliding windows, and every scored token's loss and bytes credited to
/// the document it belongs to.
struct DocumentScoring {
    let evaluation: SlidingWindowEvaluation
    let endOfText: Int32?
    let stride: Int
    /// Tokens per side scored at most; documents are taken whole, in order, while they fit
    /// (the first always).
    let maxTokens: Int

    func score(_ encoded: [[Int32]], progress: (Double) -> Void) -> [RatioDelta.Part] {
        var stream: [Int32] = []
        var owner: [Int32] = []  // the document of each position in the stream
        for (n, ids) in encoded.enumerated() {
            let added = ids.count + (endOfText == nil ? 0 : 1)
            if n > 0, stream.count + added > maxTokens { break }
            stream += ids
            if let endOfText { stream.append(endOfText) }
            owner += Array(repeating: Int32(n), count: added)
        }
        let documents = Int(owner.last ?? -1) + 1
        var losses = [RatioDelta.Part](repeating: .init(amount: 0, weight: 0), count: documents)
        _ = evaluation.evaluate(stream, stride: stride, limit: nil, progress: progress) { position, loss, bytes in
            let document = Int(owner[position])
            losses[document].amount += loss
            losses[document].weight += Double(bytes)
        }
        return losses
    }
}
