import ArgumentParser
import Foundation
import PipeEngine

/// `pipe exec-stage JOB`: runs one stage alone from the cache, as the slurm executor's batch
/// jobs and MPI ranks do. Not for direct use; the submitting `pipe run` reads its result.
struct ExecStageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-stage",
        abstract: "Run one stage from the cache, as written in a job file by `pipe run` (Slurm jobs, MPI ranks).",
        shouldDisplay: false)

    @Argument(help: "The job.json a submitting pipe wrote in the cache.")
    var job: String

    func run() async throws {
        let stage = DetachedStage(specURL: URL(fileURLWithPath: job), registry: BuiltinStages.registry,
                                  compressionLevel: compressionLevel())
        let ok = await stage.run { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        if !ok { throw ExitCode(ExitStatus.stageFailed) }
    }
}
