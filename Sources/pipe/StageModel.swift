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

/// A model that a server follows: `latest` says what the source holds now (a stage's outputs, an
/// alias's entry), `place` puts its files on disk (the count numbers fresh folders) and says how
/// to remove them once the model retires. Each new source is loaded and swapped in; one that
/// fails to load is not tried again, the next one is.
final class FollowedModelSupply<Source: Equatable & Sendable>: Sendable {
    typealias Open = @Sendable (ResolvedModel, _ onRetire: @escaping @Sendable () -> Void) throws -> ServedModel
    typealias Place = @Sendable (Source, _ count: Int) throws -> (model: ResolvedModel, remove: @Sendable () -> Void)

    private let latest: @Sendable () throws -> Source
    private let place: Place
    private let open: Open
    /// The source last tried, and how many have been.
    private let tried = Mutex<(source: Source?, count: Int)>((nil, 0))

    init(latest: @escaping @Sendable () throws -> Source, place: @escaping Place, open: @escaping Open) {
        self.latest = latest
        self.place = place
        self.open = open
    }

    /// The supply for `Server`: this model now, newer ones every `interval` seconds.
    func supply(interval: Double) -> ModelSupply {
        ModelSupply(load: { try self.load(self.latest()) }, newer: { try self.newer() }, interval: interval)
    }

    /// The source's model when it changed since the last one tried, else nil.
    private func newer() throws -> ServedModel? {
        let source = try latest()
        guard source != tried.withLock({ $0.source }) else { return nil }
        return try load(source)
    }

    private func load(_ source: Source) throws -> ServedModel {
        let count = tried.withLock {
            $0.source = source
            $0.count += 1
            return $0.count
        }
        let (model, remove) = try place(source, count)
        do {
            return try open(model, remove)
        } catch {
            remove()
            throw error
        }
    }
}

extension StageModel {
    /// `pipe serve --manifest M STAGE`'s supply: each new pair of outputs materialized into a
    /// folder of its own under `scratch`, removed when the model loaded from it retires.
    func supply(scratch: ScratchFolder, open: @escaping FollowedModelSupply<Outputs>.Open) -> FollowedModelSupply<Outputs> {
        FollowedModelSupply(latest: { try self.latest() }, place: { outputs, count in
            let folder = scratch.subfolder("\(count)")
            do {
                return (try self.materialize(outputs, into: folder.url), { folder.remove() })
            } catch {
                folder.remove()
                throw error
            }
        }, open: open)
    }
}
