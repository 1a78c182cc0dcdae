import Foundation
import PipeKit

/// Runs stages on this machine: built-ins in this process, plugins as child processes, and
/// stages with `resources: {tasks: N > 1}` as N MPI ranks under `mpirun`.
struct LocalExecutor: StageExecutor {
    let cache: Cache
    let workspace: URL
    let manifest: Manifest

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        if job.stage.resources.ranks > 1 {
            return try await MPILauncher(cache: cache, manifest: manifest).execute(job, events: events, cancel: cancel)
        }
        return try await run(job, events: events, cancel: cancel, keepOutputs: true)
    }

    /// What to run of a built-in stage: all of it, some units of a shardable stage, or the merge
    /// of the pieces that groups of units wrote (in order).
    enum Action: Sendable {
        case whole
        case units([ShardSpec])
        case merge([[String: ArtifactTree]])
    }

    /// The units a shardable built-in stage splits this job into (none when it does not split).
    func shards(of job: StageJob, events: StageEvents) throws -> [ShardSpec] {
        guard case .builtin(let builtin) = job.stage.descriptor.origin, let sharding = builtin.sharding else { return [] }
        let temp = try cache.makeTempFolder("shards-\(job.stage.name)")
        defer { temp.remove() }
        let readers = job.inputs.mapValues { StoredArtifact(tree: $0, store: cache.objects) as any ArtifactReading }
        let context = StageContext(stageName: job.stage.name, workspace: workspace, inputs: readers, outputs: [:],
                                   scratch: temp.url, work: temp.url, threads: job.threads, events: events)
        return try sharding.shards(job.stage.params, context)
    }

    /// Runs the stage here, in this process. `keepOutputs` false (MPI ranks other than 0) runs it
    /// for its share of the work and discards what it wrote.
    func run(_ job: StageJob, events: StageEvents, cancel: CancellationFlag, keepOutputs: Bool,
             action: Action = .whole) async throws -> StageProduct {
        let temp = try cache.makeTempFolder("run-\(job.stage.name)")
        defer { temp.remove() }
        let scratch = temp.url.appendingPathComponent("scratch")
        let outputRoot = temp.url.appendingPathComponent("out")
        let work = cache.workFolder(job.key)
        try FileSystem.makeDirectory(scratch)
        try FileSystem.makeDirectory(work)
        var outputs: [String: URL] = [:]
        for port in job.stage.descriptor.outputs {
            let folder = outputRoot.appendingPathComponent(port.name)
            try FileSystem.makeDirectory(folder)
            outputs[port.name] = folder
        }

        switch job.stage.descriptor.origin {
        case .builtin(let builtin):
            let readers = job.inputs.mapValues { StoredArtifact(tree: $0, store: cache.objects) as any ArtifactReading }
            let context = StageContext(stageName: job.stage.name, workspace: workspace, inputs: readers, outputs: outputs,
                                       scratch: scratch, work: work, threads: job.threads, events: events)
            let pieces = try materialize(action, in: temp.url)
            let sharding = builtin.sharding
            if case .whole = action {} else if sharding == nil {
                throw StageError("stage '\(job.stage.name)' (\(job.stage.descriptor.name)) does not split into shards")
            }
            try await withTimeout(job.stage.timeout, stage: job.stage.name) {
                switch action {
                case .whole: try await builtin.run(job.stage.params, context)
                case .units(let units): try await sharding?.runShards(job.stage.params, units, context)
                case .merge: try await sharding?.merge(job.stage.params, pieces, context)
                }
            }
        case .plugin(let plugin):
            if case .whole = action {} else { throw StageError("plugin stage '\(job.stage.name)' does not split into shards") }
            var inputFolders: [String: URL] = [:]
            for (port, tree) in job.inputs {
                let folder = temp.url.appendingPathComponent("in/\(port)")
                try tree.materialize(into: folder, store: cache.objects, readOnly: true)
                chmod(folder.path, 0o555)
                inputFolders[port] = folder
            }
            let runner = PluginRunner(plugin: plugin)
            try await Blocking.run { [inputFolders, outputs] in
                try runner.run(stage: job.stage.name, params: job.stage.params, inputs: inputFolders, outputs: outputs,
                               scratch: scratch, work: work, workspace: workspace, threads: job.threads,
                               timeout: job.stage.timeout, cancel: cancel, events: events)
            }
        }
        try Task.checkCancellation()
        guard keepOutputs else { return StageProduct(outputs: [:]) }

        var trees: [String: ArtifactTree] = [:]
        for port in job.stage.descriptor.outputs {
            let folder = outputs[port.name]!
            let tree = try await Blocking.run { [cache] in
                try ArtifactTree.ingest(folder: folder, store: cache.objects, threads: job.threads)
            }
            if case .units = action {} else if tree.files.isEmpty && !port.optional {
                throw StageError("stage '\(job.stage.name)' left its output '\(port.name)' empty" + Self.rejections(events.metrics))
            }
            trees[port.name] = tree
        }
        return StageProduct(outputs: trees)
    }

    /// Why an output may be empty, from the stage's `<name>.rejected` counts: ": every document
    /// was rejected (language 3, length 2)", or nothing when it reported none.
    static func rejections(_ metrics: [String: Double]) -> String {
        var counts: [(name: String, count: Int)] = []
        for (metric, value) in metrics where metric.hasSuffix(".rejected") && value > 0 {
            let name = metric.dropLast(".rejected".count).split(separator: ".").last.map(String.init) ?? metric
            counts.append((name, Int(value)))
        }
        guard !counts.isEmpty else { return "" }
        counts.sort { $0.count != $1.count ? $0.count > $1.count : $0.name < $1.name }
        return ": every document was rejected (" + counts.map { "\($0.name) \($0.count)" }.joined(separator: ", ") + ")"
    }

    /// The pieces of a merge, as folders under `folder`.
    private func materialize(_ action: Action, in folder: URL) throws -> [[String: URL]] {
        guard case .merge(let pieces) = action else { return [] }
        return try pieces.enumerated().map { index, outputs in
            try outputs.reduce(into: [:]) { folders, output in
                let target = folder.appendingPathComponent("pieces/\(index)/\(output.key)")
                try output.value.materialize(into: target, store: cache.objects, readOnly: true)
                folders[output.key] = target
            }
        }
    }

    /// Runs `body`, failing with a clear message when it outlives `seconds`.
    private func withTimeout(_ seconds: Double?, stage: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        guard let seconds else { return try await body() }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask { try await body(); return true }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
                return false
            }
            let finished = try await group.next()!
            group.cancelAll()
            if !finished { throw StageError("stage '\(stage)' exceeded its timeout of \(Int(seconds)) s and was stopped") }
        }
    }
}
