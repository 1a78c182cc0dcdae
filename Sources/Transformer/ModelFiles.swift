import Foundation

/// A model artifact folder: `config.json` (Hugging Face `LlamaForCausalLM`) and either
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

    /// The config alone.
    public static func config(in folder: URL) throws -> ModelConfig {
        let url = folder.appendingPathComponent(configFile)
        do {
            return try JSONDecoder().decode(ModelConfig.self, from: Data(contentsOf: url))
        } catch let error as DecodingError {
            throw TransformerError("\(url.path): not a LlamaForCausalLM config (\(error))")
        }
    }

    /// Loads a model folder (a quantized one dequantized), checking every tensor's shape.
    public static func load(from folder: URL) throws -> TransformerModel {
        let config = try config(in: folder)
        if let problem = config.problems.first { throw TransformerError("\(folder.path)/\(configFile): \(problem)") }
        let gguf = folder.appendingPathComponent(ggufFile)
        if !FileManager.default.fileExists(atPath: folder.appendingPathComponent(weightsFile).path),
           FileManager.default.fileExists(atPath: gguf.path)
        {
            return try LlamaGGUF.load(GGUF.read(gguf), config: config, path: gguf.path)
        }
        let model = TransformerModel(config: config)
        let tensors = try SafeTensors.read(folder.appendingPathComponent(weightsFile))
        for t in model.layout.tensors {
            guard let stored = tensors[t.name] else { throw TransformerError("\(folder.path)/\(weightsFile): tensor \(t.name) is missing") }
            guard stored.shape == t.shape else {
                throw TransformerError("\(folder.path)/\(weightsFile): tensor \(t.name) has shape \(stored.shape), config.json implies \(t.shape)")
            }
            stored.values.withUnsafeBufferPointer { model.parameters.pointer.advanced(by: t.offset).update(from: $0.baseAddress!, count: t.count) }
        }
        return model
    }
}
