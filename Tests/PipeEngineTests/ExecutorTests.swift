import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// The pure parts of the executors: Slurm's formats, resource checks, splitting work.
final class ExecutorTests: XCTestCase {
    func testScontrolLinesParseIntoJobStates() throws {
        let line = "JobId=12 ArrayJobId=9 ArrayTaskId=3 JobName=pipe-source UserId=root(0) JobState=FAILED Reason=NonZeroExitCode "
            + "Dependency=(null) ExitCode=3:0 RunTime=00:00:01 BatchHost=node7 NumNodes=1"
        let state = try XCTUnwrap(Slurm.JobState(scontrolLine: line))
        XCTAssertEqual(state.id, "12")
        XCTAssertEqual(state.arrayTask, "3")
        XCTAssertEqual(state.state, "FAILED")
        XCTAssertEqual(state.exitCode, "3:0")
        XCTAssertEqual(state.host, "node7")
        XCTAssertFalse(state.isActive)

        let pending = try XCTUnwrap(Slurm.JobState(scontrolLine: "JobId=13 ArrayTaskId=4-7 JobState=PENDING Reason=Resources BatchHost=(null)"))
        XCTAssertTrue(pending.isActive)
        XCTAssertNil(pending.host)
        XCTAssertNil(Slurm.JobState(scontrolLine: "slurm_load_jobs error: Invalid job id specified"))
    }

    func testSqueueLinesInTheMonitorsFormatParseToo() throws {
        // What `squeue -o "JobId=%A ArrayJobId=%F ArrayTaskId=%K JobState=%T Reason=%r BatchHost=%B"` prints.
        let plain = try XCTUnwrap(Slurm.JobState(scontrolLine: "JobId=631 ArrayJobId=631 ArrayTaskId=N/A JobState=PENDING Reason=Priority BatchHost=n/a"))
        XCTAssertNil(plain.arrayTask)
        XCTAssertNil(plain.host)
        XCTAssertTrue(plain.isActive)
        let task = try XCTUnwrap(Slurm.JobState(scontrolLine: "JobId=634 ArrayJobId=630 ArrayTaskId=2 JobState=COMPLETED Reason=None BatchHost=vm"))
        XCTAssertEqual(task.arrayJob, "630")
        XCTAssertEqual(task.arrayTask, "2")
        XCTAssertTrue(task.isCompleted)
    }

    func testSlurmTimeAndMemoryForms() {
        for good in ["30", "45:00", "02:00:00", "1-12", "1-12:00", "1-12:00:00"] { XCTAssertTrue(StageResources.isTimeLimit(good), good) }
        for bad in ["", "soon", "1:2:3:4", "1-", "-5", "1-2-3", "1h"] { XCTAssertFalse(StageResources.isTimeLimit(bad), bad) }
        for good in ["512", "512M", "8G", "1T", "64K"] { XCTAssertTrue(StageResources.isMemory(good), good) }
        for bad in ["", "G", "8 GB", "8GB", "0", "-1G", "1.5G"] { XCTAssertFalse(StageResources.isMemory(bad), bad) }
    }

    func testUnitsSplitIntoContiguousNearEqualGroupsInOrder() {
        let units = (0..<10).map { ShardSpec(.int(Int64($0))) }
        let groups = SlurmExecutor.split(units, into: 4)
        XCTAssertEqual(groups.map(\.count), [2, 3, 2, 3])
        XCTAssertEqual(groups.flatMap { $0 }, units)
        XCTAssertEqual(SlurmExecutor.split(units, into: 50).count, 10, "never more groups than units")
    }

    func testBatchScriptCarriesTheResources() throws {
        let workspace = FileManager.default.temporaryDirectory.appendingPathComponent("executor-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: workspace) }
        let cache = Cache(root: workspace.appendingPathComponent("cache"))
        try FileManager.default.createDirectory(at: workspace, withIntermediateDirectories: true)
        try Data("""
        version: 1
        name: s
        stages:
          a:
            uses: byte-count
            with: {label: x, model: {dim: 4, heads: 2}}
            resources: {cpus: 4, mem: 8G, time: "02:00:00", partition: cpu, nodes: 2, tasks: 8}

        """.utf8).write(to: workspace.appendingPathComponent("m.yaml"))
        let manifest = try ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ByteCountStage.self)]), workspace: workspace)
            .load(workspace.appendingPathComponent("m.yaml"), displayPath: "m.yaml")
        let stage = try XCTUnwrap(manifest.stage("a"))
        let job = StageJob(stage: stage, parts: KeyParts(kind: "byte-count", code: "c", params: stage.params, inputs: [:], external: [:],
                                                         environment: [:]), key: "k", inputs: [:], threads: 4)
        let folder = try DetachedJobFolder(cache: cache, manifest: manifest, job: job)
        defer { folder.remove() }
        let script = SlurmExecutor(cache: cache, manifest: manifest, threads: 2).batchScript(job, folder: folder, part: .whole)
        for line in ["#SBATCH --cpus-per-task=4", "#SBATCH --ntasks=8", "#SBATCH --nodes=2", "#SBATCH --mem=8G",
                     "#SBATCH --time=02:00:00", "#SBATCH --partition=cpu", "#SBATCH --job-name=pipe-a"] {
            XCTAssertTrue(script.contains(line + "\n"), "\(line) in:\n\(script)")
        }
        XCTAssertTrue(script.contains("exec srun --mpi=pmix "), script)
        XCTAssertTrue(script.hasSuffix(" 'exec-stage' '\(folder.specURL.path)'\n"), script)
        let spec = try JSONDecoder().decode(DetachedJobSpec.self, from: Data(contentsOf: folder.specURL))
        XCTAssertEqual(spec.stage, "a")
        XCTAssertEqual(spec.key, "k")
        XCTAssertEqual(spec.workspace, workspace.path)
    }
}
