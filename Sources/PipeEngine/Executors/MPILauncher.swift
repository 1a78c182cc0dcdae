import Foundation
import PipeKit

/// Runs a stage as N MPI ranks on this machine: `mpirun -np N pipe exec-stage job.json`. Rank 0
/// ingests the outputs and writes the result; the launcher reads it like a Slurm job's.
struct MPILauncher {
    let cache: Cache
    let manifest: Manifest

    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct {
        let folder = try DetachedJobFolder(cache: cache, manifest: manifest, job: job)
        defer { folder.remove() }
        let argv = Self.command(ranks: job.stage.resources.ranks) + [PipeExecutable.path, "exec-stage", folder.specURL.path]
        let (ending, tail) = try await Blocking.run { [manifest] in
            var tail: [String] = []
            let ending = try ChildProcess.run(argv, in: manifest.workspace, environment: ProcessInfo.processInfo.environment,
                                              timeout: job.stage.timeout, cancel: cancel) { line in
                Self.showProgress(line, events: events)
                tail.append(line)
                if tail.count > 40 { tail.removeFirst() }
            }
            return (ending, tail)
        }
        if ending == .cancelled { throw CancellationError() }
        if let result = folder.readResult() { return try folder.product(result, events: events) }
        throw StageError("mpirun ended (\(ending)) before rank 0 wrote a result; its last lines:\n" + tail.joined(separator: "\n"))
    }

    /// Rank 0's `::progress FRACTION MESSAGE` lines (see `LinePrinter`) as progress and its
    /// intermediate metrics as they come (the result's curves then replace them); its log lines
    /// show as the current message (the log itself comes with the result).
    static func showProgress(_ line: String, events: StageEvents) {
        if case .intermediate(let name, let value, let step) = PluginLine(line) {
            return events.report(name: name, step: step, value: value)
        }
        guard line.hasPrefix("::progress ") else { return events.progress(fraction: nil, message: line) }
        let rest = line.dropFirst(11).split(separator: " ", maxSplits: 1)
        events.progress(fraction: rest.first.flatMap { Double($0) }, message: rest.count > 1 ? String(rest[1]) : "")
    }

    /// `mpirun` for `ranks` processes on this machine: shared memory between ranks, the
    /// launcher's own traffic on loopback, no core binding (each rank runs its own threads).
    static func command(ranks: Int) -> [String] {
        ["mpirun", "-np", "\(ranks)", "--oversubscribe", "--bind-to", "none",
         "--mca", "btl", "self,vader", "--mca", "oob_tcp_if_include", "lo"]
            + (getuid() == 0 ? ["--allow-run-as-root"] : [])
    }
}
