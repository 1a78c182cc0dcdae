import ArgumentParser
import BuiltinStages
import Foundation
import PipeEngine
import PipeKit

/// Flags shared by every command that reads a manifest.
struct ManifestOptions: ParsableArguments {
    @Argument(help: "The pipeline manifest, e.g. pipelines/quickstart.yaml.")
    var manifest: String

    @Option(name: .customShort("C"), help: "Use DIR as the workspace (default: the current folder).")
    var directory: String?

    @Option(help: "Cache root (overrides PIPE_CACHE and the manifest's cache:).")
    var cache: String?

    @Option(name: .customLong("set"), help: "Override a manifest parameter: --set vocab=8192 (repeatable).")
    var overrides: [String] = []

    /// Changes into the workspace, loads and validates the manifest, and opens the cache.
    func load() throws -> (Manifest, Cache) {
        if let directory {
            guard FileManager.default.changeCurrentDirectoryPath(directory) else {
                throw UsageError("cannot change to folder '\(directory)'")
            }
        }
        let workspace = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        let url = manifest.hasPrefix("/") ? URL(fileURLWithPath: manifest) : workspace.appendingPathComponent(manifest)
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw UsageError("manifest '\(manifest)' not found in \(workspace.path)")
        }
        var pairs: [(String, String)] = []
        for item in overrides {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw UsageError("--set takes name=value, not '\(item)'")
            }
            pairs.append((String(item[..<eq]), String(item[item.index(after: eq)...])))
        }
        let loader = ManifestLoader(registry: BuiltinStages.registry, workspace: workspace)
        let loaded = try loader.load(url, displayPath: manifest, overrides: pairs)
        let root = Cache.resolveRoot(flag: cache, environment: ProcessInfo.processInfo.environment,
                                     manifestField: loaded.cache, workspace: workspace)
        return (loaded, Cache(root: root, compressionLevel: compressionLevel()))
    }
}

/// Where and with how many threads stale stages run: `--threads` and `--executor`, shared by
/// `pipe run` and `pipe sweep`.
struct ExecutionOptions: ParsableArguments {
    @Option(help: "Threads shared by the running stages (default: number of cores).")
    var threads: Int?

    @Option(help: "Where stale stages run: local or slurm (default: the manifest's executor:, else local).")
    var executor: ExecutorKind?

    /// Sets the threads and the executor; on Slurm, stages are not limited by the local cores
    /// unless `jobs` is given (the cluster queues what it cannot start yet).
    func apply(to options: inout RunOptions, manifest: Manifest, jobs: Int?) throws {
        if let threads {
            guard threads >= 1 else { throw UsageError("--threads must be at least 1") }
            options.threads = threads
        }
        options.executor = executor
        if let jobs { options.jobs = jobs } else if (executor ?? manifest.executor) == .slurm { options.jobs = 1000 }
    }
}

/// Writes JSON to standard output.
func printJSON(_ value: JSONValue) {
    print(value.prettyJSON, terminator: "")
}

/// zstd level for new cache objects: `PIPE_ZSTD_LEVEL`, else the store's default.
func compressionLevel() -> Int32 {
    ProcessInfo.processInfo.environment["PIPE_ZSTD_LEVEL"].flatMap { Int32($0) } ?? ObjectStore.defaultLevel
}
