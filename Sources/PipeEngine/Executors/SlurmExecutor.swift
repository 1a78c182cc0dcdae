import Foundation
import PipeKit

/// Runs each stale stage as one Slurm batch job: `sbatch` a script that runs
/// `pipe exec-stage job.json` (under `srun --mpi=pmix` for several tasks), poll
/// `scontrol show job -o` until it ends, and read the result the job left in the cache.
///
/// The scheduler submits a stage only once its dependencies finished, so no job waits on
/// another (`afterok` on a failed job would pend forever). Cancelling (Ctrl-C) runs `scancel`.
struct SlurmExecutor: StageExecutor {
    let cache: Cache
    let manifest: Manifest
    /// `--threads`: what a stage without `resources: {cpus}` gets per task (it has a node to itself).
    let threads: Int
    /// One `squeue` a cycle for all of this run's jobs.
    let monitor = SlurmMonitor(interval: 0.25)

    func threads(for stage: ManifestStage, share: Int) -> Int {
        stage.resources.cpus ?? max(1, threads / stage.resources.ranks)
    }

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        if let limit = job.stage.resources.array, limit > 1, job.stage.resources.ranks == 1 {
            let units = try LocalExecutor(cache: cache, workspace: manifest.workspace, manifest: manifest).shards(of: job, events: events)
            if units.count > 1 {
                return try await executeArray(job, groups: Self.split(units, into: limit), events: events, cancel: cancel)
            }
        }
        let folder = try DetachedJobFolder(cache: cache, manifest: manifest, job: job)
        defer { folder.remove() }
        return try await runMergeOrWhole(job, folder: folder, part: .whole, events: events, cancel: cancel)
    }

    /// A shardable stage as a job array, a task per group of units, then one job that merges
    /// the pieces. Any failed task fails the stage (and the merge is never submitted).
    private func executeArray(_ job: StageJob, groups: [[ShardSpec]], events: StageEvents,
                              cancel: CancellationFlag) async throws -> StageProduct
    {
        let folder = try DetachedJobFolder(cache: cache, manifest: manifest, job: job, groups: groups)
        defer { folder.remove() }
        let states = try await submitAndWait(job, folder: folder, part: .array(groups.count), events: events, cancel: cancel)
        var failures: [String] = []
        for index in groups.indices {
            guard let result = folder.readResult(task: index) else {
                let state = states?.first { $0.arrayTask == "\(index)" }
                failures.append("array task \(index) left no result" + (state.map { " (\($0.state), exit code \($0.exitCode))" } ?? "")
                    + folder.outputTail(5, task: index).map { "\n  " + $0 }.joined())
                continue
            }
            events.absorb(log: result.log, metrics: [:], curves: [:], warnings: result.warnings)
            if let error = result.error { failures.append("array task \(index): \(error)") }
        }
        if !failures.isEmpty {
            throw StageError("\(failures.count) of \(groups.count) array tasks failed:\n" + failures.joined(separator: "\n"))
        }
        return try await runMergeOrWhole(job, folder: folder, part: .merge, events: events, cancel: cancel)
    }

    /// Submits one job (the whole stage, or an array's merge) and reads its result.
    private func runMergeOrWhole(_ job: StageJob, folder: DetachedJobFolder, part: ScriptPart, events: StageEvents,
                                 cancel: CancellationFlag) async throws -> StageProduct
    {
        let states = try await submitAndWait(job, folder: folder, part: part, events: events, cancel: cancel)
        if let result = folder.readResult() { return try folder.product(result, events: events) }
        throw StageError(missingResultMessage(state: states?.first, folder: folder))
    }

    /// Writes the batch script, submits it, and waits until the job (every task) has ended;
    /// cancelled, it cancels the job and waits until Slurm has stopped it.
    private func submitAndWait(_ job: StageJob, folder: DetachedJobFolder, part: ScriptPart, events: StageEvents,
                               cancel: CancellationFlag) async throws -> [Slurm.JobState]?
    {
        let script = folder.url.appendingPathComponent("\(part.name).sh")
        try FileSystem.writeAtomically(Data(batchScript(job, folder: folder, part: part).utf8), to: script)
        let id = try await Blocking.run { try Slurm.submit(script) }
        events.progress(fraction: nil, message: "Slurm job \(id) submitted" + part.description)
        monitor.watch(id)
        defer { monitor.forget(id) }
        do {
            return try await wait(for: id, events: events, cancel: cancel)
        } catch {
            try? await Blocking.run { try Self.cancelAndWait(id) }
            throw error
        }
    }

    /// Polls until the job is no longer active: every 50 ms at first (jobs on an idle cluster
    /// start within a second), then every `monitor.interval`, from the run's shared snapshot.
    private func wait(for id: String, events: StageEvents, cancel: CancellationFlag) async throws -> [Slurm.JobState]? {
        var interval = 0.05
        var last = ""
        while true {
            if cancel.isSet { throw CancellationError() }
            try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            guard let states = try await Blocking.run({ [monitor] in try monitor.states(id) }) else { return nil }
            guard states.contains(where: \.isActive) else { return states }
            let summary = Dictionary(grouping: states, by: \.state).map { "\($0.value.count) \($0.key.lowercased())" }.sorted()
                .joined(separator: ", ")
            if summary != last {
                last = summary
                events.progress(fraction: nil, message: "Slurm job \(id): \(summary)")
            }
            interval = min(monitor.interval, interval * 1.5)
        }
    }

    /// `scancel`, then waits (up to 30 s) until Slurm no longer counts the job as active.
    static func cancelAndWait(_ id: String) throws {
        Slurm.cancel(id)
        for _ in 0..<300 {
            guard let states = try Slurm.states(id), states.contains(where: \.isActive) else { return }
            usleep(100_000)
        }
    }

    /// `units` in at most `count` contiguous groups of near-equal size, in order.
    static func split(_ units: [ShardSpec], into count: Int) -> [[ShardSpec]] {
        let groups = min(count, units.count)
        return (0..<groups).map { g in Array(units[(g * units.count / groups)..<((g + 1) * units.count / groups)]) }
    }

    /// Which job a batch script runs.
    enum ScriptPart: CustomStringConvertible {
        case whole, array(Int), merge
        var name: String {
            switch self {
            case .whole: return "job"
            case .array: return "array"
            case .merge: return "merge"
            }
        }
        var description: String {
            switch self {
            case .whole: return ""
            case .array(let tasks): return " (an array of \(tasks) tasks)"
            case .merge: return " (merge)"
            }
        }
    }

    /// The batch script: resources as `#SBATCH` lines, then `pipe exec-stage`.
    func batchScript(_ job: StageJob, folder: DetachedJobFolder, part: ScriptPart) -> String {
        let r = job.stage.resources
        var options = ["--job-name=pipe-\(job.stage.name)", "--chdir=\(manifest.workspace.path)", "--cpus-per-task=\(job.threads)"]
        var arguments = [PipeExecutable.path, "exec-stage", folder.specURL.path].map(Slurm.quote)
        switch part {
        case .whole, .merge:
            options.append("--output=\(folder.outputURL.path)")
            if case .merge = part { arguments.append("--merge") }
        case .array(let tasks):
            options += ["--array=0-\(tasks - 1)", "--output=\(folder.url.path)/output-%a.log"]
            arguments += ["--task", "\"$SLURM_ARRAY_TASK_ID\""]
        }
        if r.ranks > 1 { options.append("--ntasks=\(r.ranks)") }
        if let nodes = r.nodes { options.append("--nodes=\(nodes)") }
        if let mem = r.mem { options.append("--mem=\(mem)") }
        if let time = r.time { options.append("--time=\(time)") }
        if let partition = r.partition { options.append("--partition=\(partition)") }
        if let gpus = r.gpus { options.append("--gpus=\(gpus)") }
        if let timeout = job.stage.timeout, r.time == nil { options.append("--time=\(max(1, Int((timeout / 60).rounded(.up))))") }
        let run = arguments.joined(separator: " ")
        let launch = r.ranks > 1 ? "srun --mpi=pmix \(run)" : run
        return "#!/bin/sh\n" + options.map { "#SBATCH \($0.contains(" ") ? "\"\($0)\"" : $0)\n" }.joined() + "exec \(launch)\n"
    }

    /// Why a finished job left no result: it failed before pipe started, or the node does not
    /// see the cache.
    private func missingResultMessage(state: Slurm.JobState?, folder: DetachedJobFolder) -> String {
        let host = state?.host ?? "its node"
        var message = "Slurm job \(state?.id ?? "?") ended (\(state.map { "\($0.state), exit code \($0.exitCode)" } ?? "forgotten by Slurm")) "
            + "without leaving a result in \(folder.url.path). "
            + "If \(host) is not \(HostName.current), the cache \(cache.root.path) must be on a filesystem both see "
            + "(NFS, Lustre, GPFS...): a node-local cache cannot work with the slurm executor."
        let tail = folder.outputTail()
        if !tail.isEmpty { message += "\nThe job's output:\n" + tail.map { "  " + $0 }.joined(separator: "\n") }
        return message
    }
}
