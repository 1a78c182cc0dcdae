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

    func threads(for stage: ManifestStage, share: Int) -> Int {
        stage.resources.cpus ?? max(1, threads / stage.resources.ranks)
    }

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        let folder = try DetachedJobFolder(cache: cache, manifest: manifest, job: job)
        defer { folder.remove() }
        let script = folder.url.appendingPathComponent("job.sh")
        try FileSystem.writeAtomically(Data(batchScript(job, folder: folder).utf8), to: script)
        let id = try await Blocking.run { try Slurm.submit(script) }
        events.progress(fraction: nil, message: "Slurm job \(id) submitted")
        let final: Slurm.JobState?
        do {
            final = try await wait(for: id, folder: folder, events: events, cancel: cancel)
        } catch {
            try? await Blocking.run { try Self.cancelAndWait(id) }
            throw error
        }
        if let result = folder.readResult() { return try folder.product(result, events: events) }
        throw StageError(missingResultMessage(id: id, state: final, folder: folder))
    }

    /// Polls until the job is no longer active: often at first (jobs on an idle cluster start
    /// within a second), then every 2 s at most.
    private func wait(for id: String, folder: DetachedJobFolder, events: StageEvents, cancel: CancellationFlag) async throws -> Slurm.JobState? {
        var interval = 0.05
        var lastState = ""
        while true {
            if cancel.isSet { throw CancellationError() }
            try await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            guard let state = try await Blocking.run({ try Slurm.state(id) }) else { return nil }
            if !state.isActive || (state.state == "COMPLETING" && folder.readResult() != nil) { return state }
            if state.state != lastState {
                lastState = state.state
                events.progress(fraction: nil, message: "Slurm job \(id) \(state.state.lowercased())"
                    + (state.reason == "None" ? "" : " (\(state.reason))"))
            }
            interval = min(2, interval * 1.5)
        }
    }

    /// `scancel`, then waits (up to 30 s) until Slurm no longer counts the job as active.
    static func cancelAndWait(_ id: String) throws {
        Slurm.cancel(id)
        for _ in 0..<300 {
            guard let state = try Slurm.state(id), state.isActive else { return }
            usleep(100_000)
        }
    }

    /// The batch script: resources as `#SBATCH` lines, then `pipe exec-stage`.
    func batchScript(_ job: StageJob, folder: DetachedJobFolder) -> String {
        let r = job.stage.resources
        var options = ["--job-name=pipe-\(job.stage.name)", "--output=\(folder.outputURL.path)",
                       "--chdir=\(manifest.workspace.path)", "--cpus-per-task=\(job.threads)"]
        if r.ranks > 1 { options.append("--ntasks=\(r.ranks)") }
        if let nodes = r.nodes { options.append("--nodes=\(nodes)") }
        if let mem = r.mem { options.append("--mem=\(mem)") }
        if let time = r.time { options.append("--time=\(time)") }
        if let partition = r.partition { options.append("--partition=\(partition)") }
        if let gpus = r.gpus { options.append("--gpus=\(gpus)") }
        if let timeout = job.stage.timeout, r.time == nil { options.append("--time=\(max(1, Int((timeout / 60).rounded(.up))))") }
        let run = [PipeExecutable.path, "exec-stage", folder.specURL.path].map(Slurm.quote).joined(separator: " ")
        let launch = r.ranks > 1 ? "srun --mpi=pmix \(run)" : run
        return "#!/bin/sh\n" + options.map { "#SBATCH \($0.contains(" ") ? "\"\($0)\"" : $0)\n" }.joined() + "exec \(launch)\n"
    }

    /// Why a finished job left no result: it failed before pipe started, or the node does not
    /// see the cache.
    private func missingResultMessage(id: String, state: Slurm.JobState?, folder: DetachedJobFolder) -> String {
        let host = state?.host ?? "its node"
        var message = "Slurm job \(id) ended (\(state.map { "\($0.state), exit code \($0.exitCode)" } ?? "forgotten by Slurm")) "
            + "without leaving a result in \(folder.url.path). "
            + "If \(host) is not \(HostName.current), the cache \(cache.root.path) must be on a filesystem both see "
            + "(NFS, Lustre, GPFS...): a node-local cache cannot work with the slurm executor."
        let tail = folder.outputTail()
        if !tail.isEmpty { message += "\nThe job's output:\n" + tail.map { "  " + $0 }.joined(separator: "\n") }
        return message
    }
}
