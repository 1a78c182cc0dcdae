import BPETokenizer
import Foundation
import Inference
import PipeEngine
import PipeKit
import Transformer

/// Where `pipe generate` and `pipe serve` take a model and its tokenizer from: a model folder
/// (its own tokenizer.json, or `-t`), a `.gguf` file with `-t`, or with `--manifest` a stage of
/// the manifest's last run (and its tokenizer stage).
struct ModelSource {
    var model: String
    var manifest: String?
    var tokenizer: String?

    /// The model and tokenizer paths: given directly, or materialized from the manifest's last
    /// run into `scratch`.
    func resolve(scratch: URL) throws -> ResolvedModel {
        guard let manifest else {
            let folder = URL(fileURLWithPath: model)
            if folder.pathExtension == "gguf" {
                guard let tokenizer else { throw UsageError("give the tokenizer of '\(model)' with -t") }
                return ResolvedModel(name: model, model: folder, tokenizer: URL(fileURLWithPath: tokenizer))
            }
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(ModelFiles.configFile).path) else {
                throw UsageError("'\(model)' is not a model folder (no config.json) or a .gguf file; to name a stage, add --manifest")
            }
            let tokenizerURL = tokenizer.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent("tokenizer.json")
            guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
                throw UsageError("no tokenizer.json in '\(model)'; give one with -t")
            }
            return ResolvedModel(name: model, model: folder, tokenizer: tokenizerURL)
        }
        var options = try ManifestOptions.parse([manifest])
        options.cache = nil
        let (loaded, cache) = try options.load()
        let runs = try StageRuns(manifest: loaded, cache: cache)
        func artifact(stage: String, kind: ArtifactKind, into folder: URL) throws -> URL {
            guard let declared = loaded.stage(stage) else { throw UsageError("no stage '\(stage)' in \(manifest)") }
            guard let port = declared.descriptor.outputs.first(where: { $0.kind == kind }) else {
                throw UsageError("stage '\(stage)' has no \(kind) output")
            }
            guard let record = try runs.last(stage), let tree = record.outputs[port.name] else {
                throw UsageError("stage '\(stage)' has not run yet; run `pipe run \(manifest) \(stage)` first")
            }
            try tree.materialize(into: folder, store: cache.objects)
            return folder
        }
        let tokenizerStage = try tokenizer ?? Self.tokenizerStage(of: model, in: loaded)
        return ResolvedModel(name: model, model: try artifact(stage: model, kind: .model, into: scratch.appendingPathComponent("model")),
                             tokenizer: try artifact(stage: tokenizerStage, kind: .tokenizer, into: scratch.appendingPathComponent("tokenizer")))
    }
}

extension ModelSource {
    /// The stage whose tokenizer goes with a model stage: the nearest one up the model's
    /// lineage that writes a tokenizer (finetune) or reads one (export), following the model
    /// inputs (quantize's `model`, finetune's `init_from`) upstream; else the manifest's only
    /// tokenizer stage.
    static func tokenizerStage(of model: String, in manifest: Manifest) throws -> String {
        var queue = [model], seen: Set<String> = []
        while !queue.isEmpty {
            let name = queue.removeFirst()
            guard seen.insert(name).inserted, let stage = manifest.stage(name) else { continue }
            if stage.descriptor.outputs.contains(where: { $0.kind == .tokenizer }) { return name }
            let ports = stage.descriptor.inputs
            if let port = ports.first(where: { $0.kind == .tokenizer }), let source = stage.inputs[port.name] { return source.stage }
            queue += ports.filter { $0.kind == .model }.compactMap { stage.inputs[$0.name]?.stage }
        }
        let candidates = manifest.stages.filter { $0.descriptor.outputs.contains { $0.kind == .tokenizer } }.map(\.name)
        guard candidates.count == 1 else {
            throw UsageError("name the tokenizer stage with -t (candidates: \(candidates.joined(separator: ", ")))")
        }
        return candidates[0]
    }
}

/// A model and tokenizer found on disk, not yet loaded.
struct ResolvedModel {
    /// What the user called it (a path or a stage name).
    var name: String
    var model: URL
    var tokenizer: URL

    /// The weights as stored and the tokenizer, checked to agree on the vocabulary.
    func load() throws -> (ModelWeights, Tokenizer) {
        let weights: ModelWeights
        do {
            weights = try ModelWeights.load(model)
        } catch {
            throw UsageError("\(name): \(error)")
        }
        let tokenizer: Tokenizer
        do {
            tokenizer = try Tokenizer(contentsOf: self.tokenizer)
        } catch {
            throw UsageError("tokenizer \(self.tokenizer.path): \(error)")
        }
        guard tokenizer.vocabularySize == weights.config.vocabSize else {
            throw UsageError("the tokenizer has \(tokenizer.vocabularySize) tokens, the model \(weights.config.vocabSize)")
        }
        return (weights, tokenizer)
    }
}
