import Foundation
import PipeKit

/// One stage run to perform: the stage, its key, and its input artifacts.
public struct StageJob: Sendable {
    public var stage: ManifestStage
    public var parts: KeyParts
    public var key: String
    public var inputs: [String: ArtifactTree]
    /// Threads for each of the stage's processes (MPI ranks).
    public var threads: Int
}

/// What a successful stage run produced.
struct StageProduct: Sendable {
    var outputs: [String: ArtifactTree]
}

/// Decides where a stage runs; the scheduler decides what runs and when. Every executor ingests
/// the outputs into the cache the same way, so the artifact ids do not depend on where a stage ran.
protocol StageExecutor: Sendable {
    /// Runs the job, feeding its log, metrics and warnings to `events`.
    func execute(_ job: StageJob, events: StageEvents, cancel: CancellationFlag) async throws -> StageProduct

    /// Threads each process of `stage` gets, given `share`, its share of `--threads` on this machine.
    func threads(for stage: ManifestStage, share: Int) -> Int
}

extension StageExecutor {
    func threads(for stage: ManifestStage, share: Int) -> Int {
        stage.resources.cpus ?? max(1, share / stage.resources.ranks)
    }
}

/// This process's MPI rank when an MPI launcher (`mpirun`, `srun --mpi=pmix`) started it, read
/// from the environment the launcher sets; 0 otherwise.
enum LaunchRank {
    static var current: Int {
        let env = ProcessInfo.processInfo.environment
        for name in ["OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"] {
            if let value = env[name].flatMap(Int.init) { return value }
        }
        return 0
    }
}

/// The running `pipe` binary, which detached jobs run as `pipe exec-stage`.
enum PipeExecutable {
    static var path: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    }
}
