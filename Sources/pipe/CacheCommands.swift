import ArgumentParser
import Foundation
import PipeEngine
import PipeKit

/// Flags of commands that work on a cache without a manifest.
struct CacheOptions: ParsableArguments {
    @Option(name: .customShort("C"), help: "Use DIR as the workspace (default: the current folder).")
    var directory: String?

    @Option(help: "Cache root (default: PIPE_CACHE, else ./cache).")
    var cache: String?

    func open() throws -> (URL, Cache) {
        if let directory, !FileManager.default.changeCurrentDirectoryPath(directory) {
            throw UsageError("cannot change to folder '\(directory)'")
        }
        let workspace = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).standardizedFileURL
        let root = Cache.resolveRoot(flag: cache, environment: ProcessInfo.processInfo.environment, manifestField: nil,
                                     workspace: workspace)
        return (workspace, Cache(root: root, compressionLevel: compressionLevel()))
    }
}

/// `pipe verify`: re-hashes every cached object.
struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Re-hash every cached object; corrupt ones are reported and removed so the next run rebuilds them.")

    @OptionGroup var options: CacheOptions

    @Flag(help: "Print machine-readable output.")
    var json = false

    func run() async throws {
        let (_, cache) = try options.open()
        let started = Date()
        let report = Maintenance.verify(cache, threads: ProcessInfo.processInfo.activeProcessorCount)
        let seconds = Date().timeIntervalSince(started)
        if json {
            printJSON(.object([
                "objects": .int(Int64(report.objectsChecked)), "bytes": .int(report.bytesChecked),
                "corrupt": .array(report.corrupt.map { .object(["blob": .string($0.blob), "reason": .string($0.reason)]) }),
                "incomplete_runs": .array(report.incompleteRuns.map(JSONValue.string)),
                "unreadable_runs": .array(report.unreadableRuns.map(JSONValue.string)),
            ]))
        } else {
            print("checked \(report.objectsChecked) objects (\(bytes(report.bytesChecked))) in \(Terminal.duration(seconds))")
            for c in report.corrupt { print(Terminal.color("corrupt", 31) + " \(c.blob): \(c.reason)") }
            if !report.incompleteRuns.isEmpty {
                print("\(report.incompleteRuns.count) cached runs miss objects; their stages will run again")
            }
            for problem in report.unreadableRuns { print(Terminal.color("unreadable", 31) + " " + problem) }
            if report.corrupt.isEmpty { print("no corrupt objects") }
        }
        if !report.corrupt.isEmpty { throw ExitCode(ExitStatus.stageFailed) }
    }
}

/// `pipe gc`: removes what no lock file references.
struct GCCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove cached runs and objects that no manifest's lock file references.")

    @OptionGroup var options: CacheOptions

    @Argument(help: "Manifests whose runs to keep (default: every manifest with a lock file in the workspace).")
    var manifests: [String] = []

    @Flag(help: "Only report what would be removed.")
    var dryRun = false

    @Option(help: "Keep anything written in the last SECONDS (a run in progress may still need it).")
    var grace: Double = 3600

    @Flag(help: "Print machine-readable output.")
    var json = false

    func run() async throws {
        let (workspace, cache) = try options.open()
        let locks = try lockFiles(workspace)
        var keep = Set<String>()
        for lock in locks {
            do {
                try PipelineLock.load(lock).stages.values.forEach { keep.insert($0.key) }
            } catch {
                throw UsageError("\(error): gc cannot tell which runs it must keep, so it removes nothing. "
                    + "`pipe run` on its manifest sets the file aside; or move it away yourself, then run gc again")
            }
        }
        keep.formUnion(try StudyState.runKeys(in: cache))  // every sweep study's trials
        let report = Maintenance.collect(cache, keep: keep, dryRun: dryRun, grace: grace)
        if json {
            printJSON(.object([
                "dry_run": .bool(dryRun), "runs_removed": .int(Int64(report.runsRemoved)),
                "objects_removed": .int(Int64(report.objectsRemoved)), "bytes_freed": .int(report.bytesFreed),
                "runs_kept": .int(Int64(report.runsKept)), "objects_kept": .int(Int64(report.objectsKept)),
                "lock_files": .array(locks.map { .string($0.path) }),
                "unreadable_runs": .array(report.unreadableRuns.map { .string($0.path) }),
            ]))
            return
        }
        for (path, reason) in report.unreadableRuns {
            Terminal.error("warning: kept the unreadable run record \(path) (\(reason)); its objects may be removed")
        }
        let verb = dryRun ? "would remove" : "removed"
        print("kept the runs of \(locks.count) lock file(s) and of the sweeps' trials: \(report.runsKept) runs, \(report.objectsKept) objects")
        print("\(verb) \(report.runsRemoved) runs and \(report.objectsRemoved) objects, freeing \(bytes(report.bytesFreed))")
    }

    private func lockFiles(_ workspace: URL) throws -> [URL] {
        if !manifests.isEmpty {
            return manifests.map { m in
                let url = m.hasPrefix("/") ? URL(fileURLWithPath: m) : workspace.appendingPathComponent(m)
                return url.deletingPathExtension().appendingPathExtension("lock")
            }
        }
        var found: [URL] = []
        let skip: Set<String> = ["cache", ".build", ".git", ".venv", "node_modules"]
        guard let walker = FileManager.default.enumerator(at: workspace, includingPropertiesForKeys: nil) else { return [] }
        for case let url as URL in walker {
            if skip.contains(url.lastPathComponent) || url.lastPathComponent.hasPrefix(".build") { walker.skipDescendants(); continue }
            guard url.pathExtension == "lock" else { continue }
            let base = url.deletingPathExtension()
            if ["yaml", "yml"].contains(where: { FileManager.default.fileExists(atPath: base.appendingPathExtension($0).path) }) {
                found.append(url)
            }
        }
        return found
    }
}
