import Foundation
import PipeEngine
import PipeKit

/// A manifest's last results, read from its lock file and the cache: for each stage, its run
/// record and readers for its outputs.
struct PipelineResults {
    /// One stage's last completed run.
    struct StageResult {
        let stage: ManifestStage
        let record: RunRecord
        let outputs: [String: any ArtifactReading]
        let trees: [String: ArtifactTree]

        /// A JSON file of an output, or nil.
        func json(_ output: String, _ file: String) -> Any? {
            guard let reader = outputs[output], reader.files.contains(where: { $0.path == file }),
                  let data = try? reader.read(file) else { return nil }
            return try? JSONSerialization.jsonObject(with: data)
        }

        /// Outputs of a given kind.
        func outputs(of kind: ArtifactKind) -> [String] {
            stage.descriptor.outputs.filter { $0.kind == kind && outputs[$0.name] != nil }.map(\.name)
        }

        /// Whether the stage evaluates a model: it reads a model and writes metrics but no model
        /// (built-in `evaluate`, or a plugin of that shape). The report draws by such shapes and
        /// by metric names, never by stage kind names, so plugins appear as built-ins do.
        var evaluatesAModel: Bool {
            let d = stage.descriptor
            return d.inputs.contains { $0.kind == .model } && d.outputs.contains { $0.kind == .metrics }
                && !d.outputs.contains { $0.kind == .model }
        }

        /// A JSON file found in any of the stage's outputs of `kind`.
        func json(in kind: ArtifactKind, _ file: String) -> Any? {
            outputs(of: kind).lazy.compactMap { json($0, file) }.first
        }
    }

    let manifest: Manifest
    /// In manifest order; stages that never completed are left out.
    let stages: [StageResult]
    let neverRun: [String]
    /// The trials of the manifest's sweep, when it has one that ran.
    let study: StudyState?

    init(manifest: Manifest, cache: Cache) throws {
        self.manifest = manifest
        let runs = try StageRuns(manifest: manifest, cache: cache)
        var results: [StageResult] = [], missing: [String] = []
        for stage in manifest.stages {
            guard let record = try runs.last(stage.name), record.isComplete(in: cache.objects) else {
                missing.append(stage.name)
                continue
            }
            results.append(StageResult(stage: stage, record: record, outputs: record.outputs.mapValues { $0.reader(store: cache.objects) },
                                       trees: record.outputs))
        }
        stages = results
        neverRun = missing
        study = try manifest.sweep.flatMap { try StudyJournal.existing(cache: cache, study: $0.study) }.map { StudyState(try $0.read().entries) }
    }

    func result(_ name: String) -> StageResult? { stages.first { $0.stage.name == name } }

    /// Lines (documents) in a documents artifact, counted by streaming its shards.
    static func documentCount(_ reader: any ArtifactReading) -> Int {
        var lines = 0
        for file in reader.files where file.path.hasSuffix(".jsonl") {
            try? reader.readChunks(file.path) { chunk in
                for byte in chunk where byte == 0x0A { lines += 1 }
            }
        }
        return lines
    }
}
