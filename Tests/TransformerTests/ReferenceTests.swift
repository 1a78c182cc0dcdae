import Foundation
import PipeKit
import Transformer
import XCTest

/// The loss and every gradient against an independent float64 numpy implementation
/// (`tests-python/llama_reference.py`), reading the weights the way any user would: from the
/// saved `config.json` and `model.safetensors`.
final class ReferenceTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = ProcessInfo.processInfo.environment["PIPE_PYTHON"] ?? "python3"

    /// How a batch is prepared for fine-tuning: some targets masked, examples packed per row.
    struct FineTuning {
        var masked = false
        /// Lengths of the examples packed into each row (the last one takes the rest).
        var packed: [Int] = []
    }

    private func compare(_ config: ModelConfig, workers: Int, fineTuning: FineTuning? = nil) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TinyModels.model(config)
        try ModelFiles.save(model, to: folder)
        let acts = TinyModels.batch(config, batch: 3, seq: config.context, workers: workers)
        try TinyModels.referenceBatch(acts).write(to: folder.appendingPathComponent("batch.bin"))
        var arguments: [String] = []
        if let fineTuning {
            for r in 0..<acts.rows where fineTuning.masked && (r * 7) % 5 < 2 { acts.targets[r] = -1 }
            for b in 0..<acts.batch {
                var first = 0
                for length in fineTuning.packed + [acts.seq] where first < acts.seq {
                    for t in first..<min(acts.seq, first + length) { acts.segmentStarts[b * acts.seq + t] = Int32(first) }
                    first += length
                }
            }
            try Data(buffer: UnsafeBufferPointer(start: acts.targets, count: acts.rows)).write(to: folder.appendingPathComponent("targets.bin"))
            try Data(buffer: UnsafeBufferPointer(start: acts.segmentStarts, count: acts.rows)).write(to: folder.appendingPathComponent("segments.bin"))
            arguments = ["--targets", folder.appendingPathComponent("targets.bin").path, "--segments", folder.appendingPathComponent("segments.bin").path]
        }
        let trained = (0..<acts.rows).filter { acts.targets[$0] >= 0 }.count

        let gradients = FloatBuffer(count: model.layout.count)
        let loss = model.run(acts, gradients: gradients, gradScale: 1 / Float(trained)) / Double(trained)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ReferenceTests.python, ReferenceTests.root.appendingPathComponent("tests-python/llama_reference.py").path,
                             "--model", folder.path, "--batch", folder.appendingPathComponent("batch.bin").path,
                             "--batch-shape", "\(acts.batch),\(acts.seq + 1)", "--out", folder.appendingPathComponent("grads.safetensors").path] + arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "the reference script failed")
        let result = try JSONSerialization.jsonObject(with: printed) as! [String: Any]
        let referenceLoss = result["loss"] as! Double
        XCTAssertEqual(loss, referenceLoss, accuracy: 1e-5 * referenceLoss, "loss")

        let reference = try SafeTensors.read(folder.appendingPathComponent("grads.safetensors"))
        XCTAssertEqual(Set(reference.keys), Set(model.layout.tensors.map(\.name)))
        for t in model.layout.tensors {
            let mine = Array(gradients.slice(t.offset, t.count)), theirs = reference[t.name]!.values
            let difference = zip(mine, theirs).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) }.squareRoot()
            let size = theirs.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertLessThan(difference, 1e-4 * size, "\(t.name): relative gradient error \(difference / size)")
        }
    }

    func testGroupedUntiedModelMatchesReference() throws { try compare(TinyModels.grouped, workers: 2) }
    func testTiedModelMatchesReference() throws { try compare(TinyModels.tied, workers: 1) }
    func testLongSequenceMatchesReference() throws { try compare(TinyModels.longSequence, workers: 2) }
    func testMaskedTargetsMatchReference() throws { try compare(TinyModels.grouped, workers: 2, fineTuning: FineTuning(masked: true)) }
    func testPackedExamplesMatchReference() throws { try compare(TinyModels.grouped, workers: 2, fineTuning: FineTuning(packed: [3, 5])) }
    func testQKNormModelMatchesReference() throws { try compare(TinyModels.queryKeyNormed, workers: 2) }
    func testQKNormWithMaskedPackedExamplesMatchesReference() throws {
        try compare(TinyModels.queryKeyNormed, workers: 2, fineTuning: FineTuning(masked: true, packed: [4, 3]))
    }
    func testMaskedPackedLongRowsMatchReference() throws {
        try compare(TinyModels.longSequence, workers: 2, fineTuning: FineTuning(masked: true, packed: [30, 1, 17]))
    }
}
