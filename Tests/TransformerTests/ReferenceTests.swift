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

    private func compare(_ config: ModelConfig, workers: Int) throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("reference-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = TinyModels.model(config)
        try ModelFiles.save(model, to: folder)
        let acts = TinyModels.batch(config, batch: 3, seq: config.context, workers: workers)
        try TinyModels.referenceBatch(acts).write(to: folder.appendingPathComponent("batch.bin"))

        let gradients = FloatBuffer(count: model.layout.count)
        let loss = model.run(acts, gradients: gradients, gradScale: 1 / Float(acts.rows)) / Double(acts.rows)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [ReferenceTests.python, ReferenceTests.root.appendingPathComponent("tests-python/llama_reference.py").path,
                             "--model", folder.path, "--batch", folder.appendingPathComponent("batch.bin").path,
                             "--batch-shape", "\(acts.batch),\(acts.seq + 1)", "--out", folder.appendingPathComponent("grads.safetensors").path]
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
}
