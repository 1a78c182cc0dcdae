import Foundation
import Transformer

/// A weight matrix in the type it was stored in: `rows` rows of `columns` elements, row-major,
/// each row `rowBytes` bytes (GGUF blocks for quantized types).
struct WeightMatrix: @unchecked Sendable {
    let type: GGMLType
    let rows: Int
    let columns: Int
    let base: UnsafeRawPointer

    var rowBytes: Int { type.bytes(for: columns) }
    var byteCount: Int { rows * rowBytes }

    /// Row `r` dequantized into `out` (`columns` floats): how a token's embedding is read.
    func decodeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        type.decode(UnsafeRawBufferPointer(start: base + r * rowBytes, count: rowBytes), count: columns, into: out)
    }
}

/// How each head's query and key rows are ordered, which decides the elements RoPE rotates
/// together: Hugging Face's halves (i, i + d/2), or llama.cpp's neighbours (2i, 2i + 1) in GGUF
/// files, whose q and k rows are permuted to match. Attention scores are the same either way.
enum RotaryLayout: Sendable { case halves, pairs }

/// How RoPE's angles are computed: as training computes them (double precision), or as
/// llama.cpp does for GGUF files, so a GGUF model rotates exactly as it does under llama.cpp.
enum RotaryAngles: Sendable { case training, llamaCpp }

/// One transformer block's weights. `qkv` is one fused matrix (q, k and v rows in order) or three;
/// `gateUp` is one fused matrix (gate rows, then up rows) or two. The query and key norms
/// (head size each) exist with QK-norm.
struct LayerWeights: @unchecked Sendable {
    let inputNorm: UnsafePointer<Float>
    let qkv: [WeightMatrix]
    let queryNorm: UnsafePointer<Float>?
    let keyNorm: UnsafePointer<Float>?
    let output: WeightMatrix
    let postNorm: UnsafePointer<Float>
    let gateUp: [WeightMatrix]
    let down: WeightMatrix
}

/// A model's weights as stored: a safetensors model in f32, or a GGUF file's tensors (f32, f16,
/// Q8_0, Q4_0) used in place through a read-only mapping. Nothing is dequantized, so a Q4_0
/// model costs about its file size.
public final class ModelWeights: @unchecked Sendable {
    public let config: ModelConfig
    let layers: [LayerWeights]
    let embedding: WeightMatrix
    let finalNorm: UnsafePointer<Float>
    let head: WeightMatrix
    let rotary: RotaryLayout
    let rotaryAngles: RotaryAngles
    /// What owns the memory the pointers above point into.
    private let storage: AnyObject

    /// The type most of the matrices are stored in (the first layer's query matrix).
    public var matrixType: GGMLType { layers.first?.qkv.first?.type ?? head.type }

    /// Bytes of the weights the engine reads.
    public var byteCount: Int {
        layers.reduce(embedding.byteCount + (head.base == embedding.base ? 0 : head.byteCount) + 4 * config.dim) { total, l in
            total + (l.qkv + l.gateUp + [l.output, l.down]).reduce(8 * config.dim + (config.qkNorm ? 8 * config.headDim : 0)) { $0 + $1.byteCount }
        }
    }

    private init(config: ModelConfig, layers: [LayerWeights], embedding: WeightMatrix, finalNorm: UnsafePointer<Float>,
                 head: WeightMatrix, rotary: RotaryLayout, rotaryAngles: RotaryAngles, storage: AnyObject) {
        self.config = config
        self.layers = layers
        self.embedding = embedding
        self.finalNorm = finalNorm
        self.head = head
        self.rotary = rotary
        self.rotaryAngles = rotaryAngles
        self.storage = storage
    }

    /// Loads a model folder (config.json with model.safetensors or model.gguf) or a `.gguf` file.
    public static func load(_ url: URL) throws -> ModelWeights {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
            throw InferenceError(.model, "\(url.path): no such model file or folder")
        }
        guard isFolder.boolValue else { return try gguf(url, configPath: nil) }
        let weights = url.appendingPathComponent(ModelFiles.weightsFile), gguf = url.appendingPathComponent(ModelFiles.ggufFile)
        if !FileManager.default.fileExists(atPath: weights.path), FileManager.default.fileExists(atPath: gguf.path) {
            return try Self.gguf(gguf, configPath: url.appendingPathComponent(ModelFiles.configFile))
        }
        return float(try ModelFiles.load(from: url))
    }

    /// An f32 model in pipe's layout (fused q/k/v and gate/up matrices).
    public static func float(_ model: TransformerModel) -> ModelWeights {
        let c = model.config, layout = model.layout, p = UnsafePointer(model.parameters.pointer)
        func matrix(_ offset: Int, rows: Int, columns: Int) -> WeightMatrix {
            WeightMatrix(type: .f32, rows: rows, columns: columns, base: UnsafeRawPointer(p + offset))
        }
        let layers = layout.layers.map { l in
            LayerWeights(inputNorm: p + l.inputNorm, qkv: [matrix(l.qkv, rows: c.dim + 2 * c.kvDim, columns: c.dim)],
                         queryNorm: l.qkNorm.map { p + $0 }, keyNorm: l.qkNorm.map { p + $0 + c.headDim },
                         output: matrix(l.output, rows: c.dim, columns: c.dim), postNorm: p + l.postNorm,
                         gateUp: [matrix(l.gateUp, rows: 2 * c.ffnDim, columns: c.dim)], down: matrix(l.down, rows: c.dim, columns: c.ffnDim))
        }
        return ModelWeights(config: c, layers: layers, embedding: matrix(layout.embedding, rows: c.vocabSize, columns: c.dim),
                            finalNorm: p + layout.finalNorm, head: matrix(layout.head, rows: c.vocabSize, columns: c.dim),
                            rotary: .halves, rotaryAngles: .training, storage: model)
    }

    /// A GGUF file mapped into memory; its shapes are checked against the config (config.json
    /// beside it, or the file's own metadata) before any pointer into it is taken.
    static func gguf(_ url: URL, configPath: URL?) throws -> ModelWeights {
        let file = try MappedFile(url)
        let index: GGUF.Index
        let config: ModelConfig
        do {
            index = try GGUF.index(of: file.data, path: url.path)
            config = try configPath.map { try ModelFiles.config(in: $0.deletingLastPathComponent()) } ?? LlamaGGUF.config(of: index, path: url.path)
            try LlamaGGUF.checkArchitecture(index.metadata, of: config, path: url.path)
            try ModelFiles.checkWeights(of: config, from: configPath?.path ?? url.path, path: url.path) { t in
                (LlamaGGUF.ggufName(t.name), index.tensors[LlamaGGUF.ggufName(t.name)]?.dimensions, Array(t.shape.reversed()))
            }
        } catch let error as TransformerError {
            throw InferenceError(.model, error.description)
        }
        func tensor(_ name: String) throws -> GGUF.TensorPlacement {
            guard let t = index.tensors[name] else { throw InferenceError(.model, "\(url.path): tensor \(name) is missing") }
            return t
        }
        func matrix(_ name: String) throws -> WeightMatrix {
            let t = try tensor(name)
            return WeightMatrix(type: t.type, rows: t.dimensions[1], columns: t.dimensions[0], base: file.base + t.bytes.lowerBound)
        }
        func norm(_ name: String) throws -> UnsafePointer<Float> {
            let t = try tensor(name)
            guard t.type == .f32 else { throw InferenceError(.model, "\(url.path): norm \(name) is \(t.type.name); pipe reads f32 norms, as llama.cpp does") }
            return (file.base + t.bytes.lowerBound).assumingMemoryBound(to: Float.self)
        }
        let layers = try (0..<config.layers).map { l in
            let b = "blk.\(l)."
            return LayerWeights(inputNorm: try norm(b + "attn_norm.weight"),
                                qkv: [try matrix(b + "attn_q.weight"), try matrix(b + "attn_k.weight"), try matrix(b + "attn_v.weight")],
                                queryNorm: config.qkNorm ? try norm(b + "attn_q_norm.weight") : nil,
                                keyNorm: config.qkNorm ? try norm(b + "attn_k_norm.weight") : nil,
                                output: try matrix(b + "attn_output.weight"), postNorm: try norm(b + "ffn_norm.weight"),
                                gateUp: [try matrix(b + "ffn_gate.weight"), try matrix(b + "ffn_up.weight")],
                                down: try matrix(b + "ffn_down.weight"))
        }
        let embedding = try matrix("token_embd.weight")
        return ModelWeights(config: config, layers: layers, embedding: embedding, finalNorm: try norm("output_norm.weight"),
                            head: config.tieEmbeddings ? embedding : try matrix("output.weight"),
                            rotary: LlamaGGUF.permutesQueryKeyRows(config) ? .pairs : .halves, rotaryAngles: .llamaCpp, storage: file)
    }
}
