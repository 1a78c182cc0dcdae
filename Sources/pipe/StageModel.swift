import Foundation
import PipeEngine
import PipeKit
import Serve
import Synchronization

/// A manifest stage's model and its tokenizer stage's tokenizer, as their last runs left them:
/// what `--manifest M STAGE` names. The lock file is read again on every `latest()`, so a
/// server can tell when a new run has replaced the stage's output.
struct StageModel: Sendable {
    /// The artifacts of one pair of runs, compared by content.
    struct Outputs: Equatable, Sendable {
        var model: ArtifactTree
        var tokenizer: ArtifactTree
    }

    let stage: String
    let tokenizerStage: String
    private let manifestPath: String
    private let manifest: Manifest
    private let cache: Cache

    /// Loads the manifest; the tokenizer stage is `tokenizer`, or the one that goes with the model
    /// (`tokenizerStage(of:in:)`).
    init(stage: String, manifest manifestPath: String, tokenizer: String?) throws {
        var options = try ManifestOptions.parse([manifestPath])
        options.cache = nil
        let (manifest, cache) = try options.load()
        let tokenizerStage = try tokenizer ?? Self.tokenizerStage(of: stage, in: manifest)
        self.stage = stage
        self.tokenizerStage = tokenizerStage
        self.manifestPath = manifestPath
        self.manifest = manifest
        self.cache = cache
    }

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

    /// The outputs of the two stages' last runs (an error when either has not run).
    func latest() throws -> Outputs {
        let runs = try StageRuns(manifest: manifest, cache: cache)
        func output(_ stage: String, _ kind: ArtifactKind) throws -> ArtifactTree {
            guard let declared = manifest.stage(stage) else { throw UsageError("no stage '\(stage)' in \(manifestPath)") }
            guard let port = declared.descriptor.outputs.first(where: { $0.kind == kind }) else {
                throw UsageError("stage '\(stage)' has no \(kind) output")
            }
            guard let record = try runs.last(stage), let tree = record.outputs[port.name] else {
                throw UsageError("stage '\(stage)' has not run yet; run `pipe run \(manifestPath) \(stage)` first")
            }
            return tree
        }
        return Outputs(model: try output(stage, .model), tokenizer: try output(tokenizerStage, .tokenizer))
    }

    /// Writes `outputs` into `folder` (`model/`, `tokenizer/`).
    func materialize(_ outputs: Outputs, into folder: URL) throws -> ResolvedModel {
        let model = folder.appendingPathComponent("model"), tokenizer = folder.appendingPathComponent("tokenizer")
        try outputs.model.materialize(into: model, store: cache.objects)
        try outputs.tokenizer.materialize(into: tokenizer, store: cache.objects)
        return ResolvedModel(name: stage, model: model, tokenizer: tokenizer)
    }
}

/// `pipe serve --manifest M STAGE`'s model supply: the stage's latest outputs, each new pair
/// materialized into a folder of its own under `scratch` (removed when the model loaded from it
/// retires) and opened by `open`. A pair that fails to load is not tried again; the next run's
/// outputs are.
final class StageModelSupply: Sendable {
    typealias Open = @Sendable (ResolvedModel, _ onRetire: @escaping @Sendable () -> Void) throws -> ServedModel

    private let stage: StageModel
    private let scratch: ScratchFolder
    private let open: Open
    /// The outputs last tried, and how many pairs have been.
    private let tried = Mutex<(outputs: StageModel.Outputs?, count: Int)>((nil, 0))

    init(stage: StageModel, scratch: ScratchFolder, open: @escaping Open) {
        self.stage = stage
        self.scratch = scratch
        self.open = open
    }

    /// The supply for `Server`: this model now, newer ones every `interval` seconds.
    func supply(interval: Double) -> ModelSupply {
        ModelSupply(load: { try self.load(self.stage.latest()) }, newer: { try self.newer() }, interval: interval)
    }

    /// The stage's latest model when its outputs changed since the last one tried, else nil.
    private func newer() throws -> ServedModel? {
        let latest = try stage.latest()
        guard latest != tried.withLock({ $0.outputs }) else { return nil }
        return try load(latest)
    }

    private func load(_ outputs: StageModel.Outputs) throws -> ServedModel {
        let count = tried.withLock {
            $0.outputs = outputs
            $0.count += 1
            return $0.count
        }
        let folder = scratch.subfolder("\(count)")
        do {
            return try open(try stage.materialize(outputs, into: folder.url)) { folder.remove() }
        } catch {
            folder.remove()
            throw error
        }
    }
}
