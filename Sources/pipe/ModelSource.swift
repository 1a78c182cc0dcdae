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
        let stage = try StageModel(stage: model, manifest: manifest, tokenizer: tokenizer)
        return try stage.materialize(stage.latest(), into: scratch)
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
