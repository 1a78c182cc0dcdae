import BPETokenizeStage
import BuiltinStages
import Foundation
import PipeEngine
import PipeKit
import Transformer

/// One reader of outside data, driven by arbitrary bytes. Errors are the expected answer to a
/// bad input; a trap, an abort or an unbounded allocation is the bug a fuzzer looks for.
enum FuzzTarget: String, CaseIterable {
    case manifest
    case jsonl
    case pluginLine = "plugin-line"
    case gguf
    case safetensors
    case modelConfig = "model-config"
    case tokenizer

    /// Feeds `data` to the reader; readers that take a path get it as a file in `scratch`.
    func run(_ data: Data, scratch: URL) {
        switch self {
        case .manifest:
            let file = write(data, "manifest.yaml", in: scratch)
            _ = try? ManifestLoader(registry: BuiltinStages.registry, workspace: scratch).load(file, displayPath: "manifest.yaml")
        case .jsonl:
            let lines = DocumentLines(data)
            try? lines.forEachText(0..<lines.lines.count) { _, _ in }
            var field: [UInt8] = []
            for index in 0..<lines.lines.count {
                lines.withLine(index) { line in
                    field.removeAll(keepingCapacity: true)
                    _ = JSONLineScanner.stringField("id", in: line, into: &field)
                }
            }
            _ = try? JSONValue.parse(data)
        case .pluginLine:
            for line in String(decoding: data, as: UTF8.self).split(separator: "\n") { _ = PluginLine(String(line)) }
        case .gguf:
            _ = try? GGUF.read(write(data, "model.gguf", in: scratch))
        case .safetensors:
            _ = try? SafeTensors.read(write(data, "model.safetensors", in: scratch))
        case .modelConfig:
            _ = write(data, ModelFiles.configFile, in: scratch)
            _ = try? ModelFiles.config(in: scratch)
        case .tokenizer:
            if let tokenizer = try? Tokenizer(contentsOf: write(data, "tokenizer.json", in: scratch)) {
                let ids = tokenizer.encode("Hello, world! <|endoftext|> ünïcödé 12345")
                _ = try? tokenizer.decode(ids)
            }
        }
    }

    private func write(_ data: Data, _ name: String, in folder: URL) -> URL {
        let url = folder.appendingPathComponent(name)
        try? data.write(to: url)
        return url
    }
}
