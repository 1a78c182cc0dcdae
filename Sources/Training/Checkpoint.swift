import Foundation
import PipeKit
import Transformer

/// A training checkpoint in the stage's work folder: a JSON header (step, history, what it
/// belongs to) followed by the trained parameters (the model's weights, or LoRA adapters) and
/// both AdamW moments, written atomically.
struct Checkpoint {
    struct Header: Codable {
        var format = 1
        /// What the run was started with; a checkpoint of anything else is ignored.
        var fingerprint: String
        var step: Int
        var workers: Int
        var elapsedSeconds: Double
        var history: [CurvePoint]
        /// Summed loss and count of the steps since the last curve point.
        var windowLoss: Double
        var windowSteps: Int
        /// Trained-on targets so far (absent in checkpoints written before fine-tuning existed).
        var trainedTokens: Int?
    }

    static let fileName = "checkpoint.bin"

    /// Saves the state after `header.step` steps, atomically (`AtomicFile`).
    static func save(_ header: Header, parameters: FloatBuffer, optimizer: any ParameterOptimizer, in folder: URL) throws {
        let json = try JSONEncoder().encode(header)
        try AtomicFile.write(to: folder.appendingPathComponent(fileName)) { fd, path in
            var length = UInt64(json.count).littleEndian
            try withUnsafeBytes(of: &length) { try AtomicFile.writeAll(fd, $0, path: path) }
            try json.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
            for buffer in [parameters, optimizer.m, optimizer.v] {
                try AtomicFile.writeAll(fd, UnsafeRawBufferPointer(UnsafeBufferPointer(buffer.slice(0, buffer.count))), path: path)
            }
        }
    }

    /// Restores a checkpoint with this fingerprint into the parameters and optimizer, or returns nil.
    static func load(fingerprint: String, parameters: FloatBuffer, optimizer: any ParameterOptimizer, in folder: URL) throws -> Header? {
        let url = folder.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url, options: .alwaysMapped), data.count >= 8 else { return nil }
        let length = data.prefix(8).withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        let floats = parameters.count
        guard length > 0, data.count == 8 + length + 3 * 4 * floats,
              let header = try? JSONDecoder().decode(Header.self, from: data.subdata(in: 8..<8 + length)),
              header.fingerprint == fingerprint
        else { return nil }
        data.withUnsafeBytes { raw in
            for (k, buffer) in [parameters, optimizer.m, optimizer.v].enumerated() {
                let source = raw.baseAddress! + 8 + length + k * 4 * floats
                UnsafeMutableRawPointer(buffer.pointer).copyMemory(from: source, byteCount: 4 * floats)
            }
        }
        optimizer.step = header.step
        return header
    }
}

/// One row of the loss curve.
public struct CurvePoint: Codable, Equatable, Sendable {
    var step: Int
    var trainLoss: Double
    var valLoss: Double?
    var learningRate: Double
    var gradientNorm: Double
    var tokensPerSecond: Double
    /// Wall seconds of training up to this point, validation included (nil in curves written
    /// before it was recorded): what time-to-loss comparisons read.
    var seconds: Double?
}
