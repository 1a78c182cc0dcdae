import Foundation
import PipeKit
import Transformer

/// `quantize`: stores a model's matrices in GGUF's Q8_0 or Q4_0 blocks (or f16), keeping the
/// norms in f32. The result is a `model` artifact (`config.json` + `model.gguf`) that
/// `evaluate` measures like any other, so the cost in quality is known.
public struct QuantizeStage: Stage {
    public struct Params: Parameters {
        @Param("the matrices' type") var type = MatrixType.q8_0
        @Param("the LM head's type (the embedding when tied), which costs the most quality; llama.cpp keeps it above 4 bits too")
        var head = HeadType.q8_0
        public init() {}
    }

    /// A type for the matrices.
    enum MatrixType: String, ParamChoice { case q8_0, q4_0, f16 }

    /// A type for the LM head: `same` as the matrices, or its own.
    enum HeadType: String, ParamChoice { case same, f32, f16, q8_0, q4_0 }

    public static let name = "quantize"
    public static let version = 1
    public static let summary = "Quantize a model's weights to GGUF Q8_0 / Q4_0 blocks (or f16), norms kept in f32."
    public static let inputs = [StagePort("model", .model, doc: "a float model (safetensors)")]
    public static let outputs = [
        StagePort("model", .model, doc: "config.json + model.gguf (llama.cpp tensor names and layout)"),
        StagePort("metrics", .metrics, doc: "metrics.json: sizes, bits per weight, relative error of the weights"),
    ]
    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let input = try context.input("model")
        let folder = try input.materialize(into: context.scratch.appendingPathComponent("model"))
        guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelFiles.weightsFile).path) else {
            throw StageError("model \(input.id) is already quantized (it has no \(ModelFiles.weightsFile)); quantize the float model")
        }
        let model = try ModelFiles.load(from: folder)
        let main = GGMLType(name: p.type.rawValue)!
        let head = p.head == .same ? main : GGMLType(name: p.head.rawValue)!
        var fallbacks: [String] = []
        let tensors = LlamaGGUF.tensors(of: model) { t in
            if t.isNorm { return .f32 }
            let wanted = t.offset == model.layout.head ? head : main
            if wanted.blockSize > 1, t.shape[1] % wanted.blockSize != 0 {
                fallbacks.append(t.name)
                return .f16
            }
            return wanted
        }
        if !fallbacks.isEmpty {
            context.log("rows not a multiple of 32, kept in f16: \(fallbacks.joined(separator: ", "))")
        }
        let out = try context.output("model")
        try FileManager.default.copyItem(at: folder.appendingPathComponent(ModelFiles.configFile), to: out.appendingPathComponent(ModelFiles.configFile))
        try GGUF.write(metadata: LlamaGGUF.metadata(model.config, name: context.stageName, fileType: main), tensors: tensors,
                       to: out.appendingPathComponent(ModelFiles.ggufFile))

        // How far the stored weights are from the float ones, and what they cost in bytes.
        let restored = try ModelFiles.load(from: out)
        var error = 0.0, norm = 0.0
        for i in 0..<model.parameters.count {
            let a = Double(model.parameters.pointer[i]), b = Double(restored.parameters.pointer[i])
            error += (a - b) * (a - b)
            norm += a * a
        }
        let bytes = tensors.reduce(0) { $0 + $1.data.count }
        let metrics: [String: Double] = [
            "quantize.bytes": Double(bytes), "quantize.float_bytes": Double(4 * model.parameters.count),
            "quantize.bits_per_weight": Double(8 * bytes) / Double(model.parameters.count),
            "quantize.relative_rms_error": (error / max(norm, 1e-30)).squareRoot(),
        ]
        for (k, v) in metrics.sorted(by: { $0.key < $1.key }) { context.metric(k, v) }
        try JSONValue.object(metrics.mapValues(JSONValue.double)).write(to: try context.output("metrics").appendingPathComponent("metrics.json"))
        context.log(String(format: "%@ (head %@): %.2f bits per weight, %d bytes, relative RMS error %.4f", main.name, head.name,
                           metrics["quantize.bits_per_weight"]!, bytes, metrics["quantize.relative_rms_error"]!))
    }
}
