@testable import MonitorStage
import PipeKit
import TokenScoring
import Transformer
import XCTest

/// Per-document losses of the monitor: every scored token credited to the document it belongs
/// to, adding up to what evaluate's sliding windows measure over the same stream.
final class DocumentScoringTests: XCTestCase {
    func testEveryScoredTokenIsCreditedToItsDocumentOnce() {
        let config = ModelConfig(vocabSize: 20, dim: 8, layers: 1, heads: 2, kvHeads: 1, ffnDim: 16, context: 8,
                                 normEps: 1e-5, tieEmbeddings: true)
        let model = TransformerModel(config: config)
        model.initialize(seed: 1)
        let endOfText: Int32 = 19
        let tokenBytes = (0..<20).map { $0 == 19 ? 0 : $0 % 3 + 1 }
        var rng = SplitMix64(seed: 5)
        let documents = [3, 1, 12, 7, 5].map { n in (0..<n).map { _ in Int32(rng.next() % 19) } }
        let evaluation = SlidingWindowEvaluation(model: model, workers: Workers(1), batch: 3, tokenBytes: tokenBytes)
        let scoring = DocumentScoring(evaluation: evaluation, endOfText: endOfText, stride: 3, maxTokens: 1000)

        let losses = scoring.score(documents) { _ in }
        XCTAssertEqual(losses.count, documents.count)
        let stream = documents.flatMap { $0 + [endOfText] }
        let totals = evaluation.evaluate(stream, stride: 3, limit: nil, progress: { _ in })
        XCTAssertEqual(losses.reduce(0) { $0 + $1.amount }, totals.loss, accuracy: 1e-9)
        // The stream's first token is never predicted; every other token of a document is.
        for (n, ids) in documents.enumerated() {
            XCTAssertEqual(losses[n].weight, Double((n == 0 ? ids.dropFirst() : ids[...]).reduce(0) { $0 + tokenBytes[Int($1)] }), "document \(n)")
            XCTAssertGreaterThan(losses[n].amount, 0)
        }

        // A budget of 10 tokens takes the first two documents whole (4 + 2 tokens with their end-of-text).
        let capped = DocumentScoring(evaluation: evaluation, endOfText: endOfText, stride: 3, maxTokens: 10).score(documents) { _ in }
        XCTAssertEqual(capped.count, 2)
        XCTAssertEqual(capped[1].weight, losses[1].weight)
        XCTAssertEqual(capped[1].amount, losses[1].amount, accuracy: 1e-4, "a causal model scores a document the same whatever follows it")
    }
}

/// The monitor's seeded reservoir sample of a side's documents.
final class DocumentSampleTests: XCTestCase {
    /// A documents artifact already on disk.
    struct Folder: ArtifactReading {
        let url: URL
        var id: String { "test" }
        var files: [ArtifactFile] { [] }
        func readChunks(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            try Data(contentsOf: url.appendingPathComponent(path)).withUnsafeBytes(body)
        }
        func materialize(into folder: URL) throws -> URL { url }
    }

    func testAtMostLimitDocumentsInReadingOrderEachEquallyLikely() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sample-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let writer = DocumentsWriter(folder: root, shardBytes: 500)
        for n in 0..<100 { try writer.write(Document(id: "\(n)", text: "\(n)")) }
        try writer.close()
        let input = Folder(url: root)

        let all = try DocumentSample.read(input, folder: root, limit: 1000, maxBytes: 1000, seed: 0, side: "reference")
        XCTAssertEqual(all.texts, (0..<100).map(String.init))
        let sample = try DocumentSample.read(input, folder: root, limit: 10, maxBytes: 1000, seed: 4, side: "reference")
        XCTAssertEqual(sample.seen, 100)
        XCTAssertEqual(sample.texts.count, 10)
        XCTAssertEqual(sample.texts.map { Int($0)! }, sample.texts.map { Int($0)! }.sorted(), "reading order")
        XCTAssertEqual(try DocumentSample.read(input, folder: root, limit: 10, maxBytes: 1000, seed: 4, side: "reference").texts, sample.texts, "seeded")
        // 100 documents of "0" to "99" hold 190 bytes; a sample may not hold more than its cap.
        XCTAssertThrowsError(try DocumentSample.read(input, folder: root, limit: 1000, maxBytes: 189, seed: 0, side: "current")) {
            XCTAssertTrue("\($0)".contains("current: the sampled documents hold more than max_bytes (189)"), "\($0)")
        }
        XCTAssertEqual(try DocumentSample.read(input, folder: root, limit: 1000, maxBytes: 190, seed: 0, side: "current").texts.count, 100)
        // Over 400 seeds every document is kept about 40 times (10 of 100 each time).
        var kept = [Int](repeating: 0, count: 100)
        for seed in 0..<400 { for text in try DocumentSample.read(input, folder: root, limit: 10, maxBytes: 1000, seed: UInt64(seed), side: "reference").texts { kept[Int(text)!] += 1 } }
        XCTAssertGreaterThan(kept.min()!, 15)
        XCTAssertLessThan(kept.max()!, 70)
    }
}
