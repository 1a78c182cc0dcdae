import ArgumentParser
import BuiltinStages
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

    @Option(help: "Run this task of the job's array (a group of a shardable stage's units).")
    var task: Int?

    @Flag(help: "Merge the pieces the array's tasks wrote.")
    var merge = false

    func validate() throws {
        if task != nil && merge { throw ValidationError("give --task or --merge, not both") }
    }

    func run() async throws {
        let part: DetachedStage.Part = merge ? .merge : task.map { .task($0) } ?? .whole
        let stage = DetachedStage(specURL: URL(fileURLWithPath: job), part: part, registry: BuiltinStages.registry,
                                  compressionLevel: compressionLevel())
        let ok = await stage.run { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
        if !ok { throw ExitCode(ExitStatus.stageFailed) }
    }
}
