import Foundation

/// A model artifact folder: `config.json` (Hugging Face `LlamaForCausalLM` or `Qwen3ForCausalLM`) and either
/// `model.safetensors` with Hugging Face tensor names or, for a quantized model, `model.gguf`.
public enum ModelFiles {
    public static let configFile = "config.json"
    public static let weightsFile = "model.safetensors"
    public static let ggufFile = "model.gguf"

    /// Writes the model into `folder`; `metadata` goes into the safetensors header.
    public static func save(_ model: TransformerModel, to folder: URL, metadata: [String: String] = [:]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(model.config).write(to: folder.appendingPathComponent(configFile))
        let sources = model.layout.tensors.map {
            SafeTensors.Source(name: $0.name, shape: $0.shape, values: UnsafeBufferPointer(model.parameters.slice($0.offset, $0.count)))
        }
        try SafeTensors.write(sources, metadata: metadata, to: folder.appendingPathComponent(weightsFile))
    }

    /// The largest `config.json` read (real ones are about a kilobyte).
    public static let maxConfigBytes = 1 << 20

    /// The config alone.
    public static func config(in folder: URL) throws -> ModelConfig {
        let url = folder.appendingPathComponent(configFile)
        let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0
        guard size <= maxConfigBytes else { throw TransformerError("\(url.path): \(size) bytes; config files over \(maxConfigBytes) bytes are refused") }
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: Data(contentsOf: url))
        } catch let problem as ModelConfig.FieldProblem {
            throw TransformerError("\(url.path): \(problem)")
        } catch let error as DecodingError {
            throw TransformerError("\(url.path): not a LlamaForCausalLM or Qwen3ForCausalLM config (\(error))")
        }
    }

    /// Loads a model folder (a quantized one dequantized), checking every tensor's shape.
    public static func load(from folder: URL) throws -> TransformerModel {
        let config = try config(in: folder), configPath = folder.appendingPathComponent(configFile).path
        let gguf = folder.appendingPathComponent(ggufFile), weights = folder.appendingPathComponent(weightsFile)
        if !FileManager.default.fileExists(atPath: weights.path), FileManager.default.fileExists(atPath: gguf.path) {
            return try LlamaGGUF.load(GGUF.read(gguf), config: config, configPath: configPath, path: gguf.path)
        }
        let tensors = try SafeTensors.read(weights)
        try checkWeights(of: config, from: configPath, path: weights.path) { ($0.name, tensors[$0.name]?.shape, $0.shape) }
        let model = TransformerModel(config: config)
        for t in model.layout.tensors {
            tensors[t.name]!.values.withUnsafeBufferPointer { model.parameters.pointer.advanced(by: t.offset).update(from: $0.baseAddress!, count: t.count) }
        }
        return model
    }

    /// Throws unless `config` (read from `configPath`) has no problems and the weights file at `path` holds every tensor
    /// the config implies, with its shape. Run before a model is allocated, it ties the
    /// allocation to the weights actually present, so a config cannot ask for more memory than
    /// its file backs. `stored` gives, for each tensor of the layout, the name and shape in
    /// the file and the shape the config implies (in the file's order of dimensions).
    public static func checkWeights(of config: ModelConfig, from configPath: String, path: String,
                             stored: (ParameterLayout.Tensor) -> (name: String, shape: [Int]?, implied: [Int])) throws
    {
        if let problem = config.problems.first { throw TransformerError("\(configPath): \(problem)") }
        for t in ParameterLayout(config).tensors {
            let (name, shape, implied) = stored(t)
            guard let shape else { throw TransformerError("\(path): tensor \(name) is missing") }
            guard shape == implied else { throw TransformerError("\(path): tensor \(name) has shape \(shape), the config implies \(implied)") }
        }
    }
}
