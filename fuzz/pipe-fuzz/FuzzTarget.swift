import BPETokenizer
import BuiltinStages
import CollectStage
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
    /// `collect` reading the input as each of its formats: WARC, gzip and zstd streams, JSONL.
    case warc
    case gzip
    case zstd
    case collectJSONL = "collect-jsonl"
    /// Labelled examples as the `examples` artifact holds them, one JSON line each.
    case examples
    /// A tokenizer_config.json's chat template, looked up and rendered.
    case chatTemplate = "chat-template"

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
        case .warc: CollectRun.shared.collect(data, as: "input.warc", in: scratch)
        case .gzip: CollectRun.shared.collect(data, as: "input.jsonl.gz", in: scratch)
        case .zstd: CollectRun.shared.collect(data, as: "input.txt.zst", in: scratch)
        case .collectJSONL: CollectRun.shared.collect(data, as: "input.jsonl", in: scratch)
        case .examples:
            for line in data.split(separator: UInt8(ascii: "\n")) {
                if let json = try? JSONValue.parse(Data(line)) { _ = try? Example(json: json, at: "fuzz") }
            }
        case .chatTemplate:
            _ = write(data, "tokenizer_config.json", in: scratch)
            if let template = try? ChatTemplate.lookup(tokenizer: scratch) {
                _ = try? template.render([ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "{content} ü"),
                                          ChatMessage(role: "assistant", content: "a")])
                _ = template.jinja
                _ = template.stopText
            }
        }
    }

    private func write(_ data: Data, _ name: String, in folder: URL) -> URL {
        let url = folder.appendingPathComponent(name)
        writeWithoutSync(data, to: url)
        return url
    }
}

/// Writes a fuzz input where a reader will find it. No fsync (Foundation's `Data.write` syncs):
/// on a busy disk a sync can take longer than libFuzzer's per-input timeout.
func writeWithoutSync(_ data: Data, to url: URL) {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { return }
    defer { close(fd) }
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n <= 0 { return }
            offset += n
        }
    }
}

/// Runs the real `collect` stage over one file, with its defaults and a 1 MiB record cap.
final class CollectRun: @unchecked Sendable {
    static let shared = CollectRun()
    private let params: CollectStage.Params

    /// Ignores what the stage reports.
    private struct Silent: StageEventSink {
        func progress(fraction: Double?, message: String) {}
        func log(_ line: String) {}
        func metric(name: String, value: Double) {}
        func report(name: String, step: Int, value: Double) {}
        func warn(_ message: String) {}
    }

    private init() {
        // The manifest loader fills in the defaults, as for a real run.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-fuzz-params-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let manifest = folder.appendingPathComponent("m.yaml")
        let text = "version: 1\nname: f\nstages:\n  c:\n    uses: collect\n"
            + "    with: {sources: [{path: src}], max_record_bytes: 1048576, on_corrupt: skip, shard_bytes: 1048576}\n"
        try? Data(text.utf8).write(to: manifest)
        do {
            let loaded = try ManifestLoader(registry: BuiltinStages.registry, workspace: folder).load(manifest, displayPath: "m.yaml")
            params = try CollectStage.decodeParams(loaded.stages[0].params)
        } catch {
            fatalError("the collect fuzz target's manifest does not load: \(error)")
        }
    }

    func collect(_ data: Data, as name: String, in scratch: URL) {
        let source = scratch.appendingPathComponent("src"), output = scratch.appendingPathComponent("out")
        for folder in [source, output] {
            try? FileManager.default.removeItem(at: folder)
            try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        }
        writeWithoutSync(data, to: source.appendingPathComponent(name))
        let context = StageContext(stageName: "collect", workspace: scratch, inputs: [:], outputs: ["documents": output],
                                   scratch: scratch, work: scratch, threads: 1, events: Silent())
        let done = DispatchSemaphore(value: 0)
        let params = self.params
        Task.detached {
            _ = try? await CollectStage().run(params, context)
            done.signal()
        }
        done.wait()
    }
}
