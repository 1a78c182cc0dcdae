import Foundation
import PipeKit

/// `pipe exec-stage JOB`: runs one stage alone from the cache, as a Slurm job or as one MPI
/// rank, from the `job.json` a submitter wrote. It loads the same manifest, checks that the
/// stage still has the submitted key, runs the stage like the local executor, ingests the
/// outputs into the cache (rank 0 only) and writes `result.json` beside the job file.
public struct DetachedStage {
    /// Which part of the stage this process runs.
    public enum Part: Sendable {
        /// All of it.
        case whole
        /// Task N of a job array: the N-th group of units of a shardable stage.
        case task(Int)
        /// The merge of every task's piece, once the array finished.
        case merge
    }

    public let specURL: URL
    public let part: Part
    public let registry: StageRegistry
    public let compressionLevel: Int32

    public init(specURL: URL, part: Part, registry: StageRegistry, compressionLevel: Int32) {
        self.specURL = specURL
        self.part = part
        self.registry = registry
        self.compressionLevel = compressionLevel
    }

    private var task: Int? {
        if case .task(let index) = part { return index }
        return nil
    }

    /// Runs the job; false when it failed (the reason is printed and, when possible, in the result).
    public func run(print: @escaping @Sendable (String) -> Void) async -> Bool {
        let host = HostName.current
        let spec: DetachedJobSpec
        do {
            spec = try JSONDecoder().decode(DetachedJobSpec.self, from: Data(contentsOf: specURL))
        } catch {
            print("pipe exec-stage: cannot read the job file \(specURL.path) on \(host): \(error). "
                + "The cache must be on a filesystem that every node sees (NFS, Lustre, GPFS...).")
            return false
        }
        let rank = LaunchRank.current
        let events = StageEvents(stage: spec.stage, observer: rank == 0 ? LinePrinter(print: print) : SilentObserver())
        do {
            let outputs = try await execute(spec, events: events, keepOutputs: rank == 0)
            if rank == 0 { try write(spec, host: host, events: events, outputs: outputs, error: nil) }
            return true
        } catch {
            let message = rank == 0 ? "\(error)" : "rank \(rank): \(error)"
            print("error: " + message)
            if rank == 0 { try? write(spec, host: host, events: events, outputs: nil, error: message) }
            return false
        }
    }

    private func execute(_ spec: DetachedJobSpec, events: StageEvents, keepOutputs: Bool) async throws -> [String: ArtifactTree] {
        let workspace = URL(fileURLWithPath: spec.workspace)
        _ = FileManager.default.changeCurrentDirectoryPath(workspace.path)
        let loader = ManifestLoader(registry: registry, workspace: workspace)
        let manifest = try loader.load(URL(fileURLWithPath: spec.manifest), displayPath: spec.displayPath,
                                       overrides: spec.overrides.map { ($0[0], $0[1]) })
        guard let stage = manifest.stage(spec.stage) else {
            throw StageError("\(spec.displayPath) no longer has a stage named '\(spec.stage)'")
        }
        let cache = Cache(root: URL(fileURLWithPath: spec.cacheRoot), compressionLevel: compressionLevel)
        let parts = try KeyBuilder(cache: cache, workspace: workspace).parts(for: stage, inputs: spec.inputs)
        guard parts.key == spec.key else {
            throw StageError("stage '\(spec.stage)' changed since the job was submitted (key \(spec.key), now \(parts.key)): "
                + "its manifest entry, code or external files were edited; run pipe again")
        }
        let job = StageJob(stage: stage, parts: parts, key: spec.key, inputs: spec.inputs, threads: spec.threads)
        let executor = LocalExecutor(cache: cache, workspace: workspace, manifest: manifest)
        return try await executor.run(job, events: events, cancel: CancellationFlag(), keepOutputs: keepOutputs,
                                      action: try action(spec)).outputs
    }

    /// What to run for this part, with the pieces of the array's tasks for a merge.
    private func action(_ spec: DetachedJobSpec) throws -> LocalExecutor.Action {
        switch part {
        case .whole: return .whole
        case .task(let index):
            guard let groups = spec.groups, groups.indices.contains(index) else {
                throw StageError("the job has no array task \(index)")
            }
            return .units(groups[index])
        case .merge:
            let folder = specURL.deletingLastPathComponent()
            return .merge(try (0..<(spec.groups?.count ?? 0)).map { index in
                let url = folder.appendingPathComponent("result-\(index).json")
                guard let data = try? Data(contentsOf: url),
                      let outputs = try JSONDecoder().decode(DetachedJobResult.self, from: data).outputs else {
                    throw StageError("array task \(index) left no piece in \(url.path)")
                }
                return outputs
            })
        }
    }

    private func write(_ spec: DetachedJobSpec, host: String, events: StageEvents, outputs: [String: ArtifactTree]?,
                       error: String?) throws
    {
        let result = DetachedJobResult(host: host, outputs: outputs, error: error, log: events.logText, logTail: events.logTail,
                                       metrics: events.metrics, curves: events.curves, warnings: events.warnings)
        try DetachedJobFolder.write(result, besides: specURL, task: task)
    }
}

/// Prints a detached stage's log, progress and intermediate metrics as they come, so the job's
/// own output file (Slurm's `--output`, mpirun's terminal) shows them live.
struct LinePrinter: RunObserver {
    let print: @Sendable (String) -> Void
    func started(_ stage: String, reasons: [StaleReason]) {}
    func progress(_ stage: String, fraction: Double?, message: String) {
        print("::progress " + (fraction.map { String(format: "%.3f", $0) } ?? "-") + " " + message)
    }
    func log(_ stage: String, _ line: String) { print(line) }
    func warning(_ stage: String, _ message: String) {}
    func intermediate(_ stage: String, name: String, step: Int, value: Double) {
        print("::metric \(name) \(value) step=\(step)")
    }
    func finished(_ stage: String, _ outcome: StageOutcome) {}
}
