import ArgumentParser
import Foundation
import PipeEngine
import PipeKit

/// `pipe show MANIFEST STAGE`: a stage's outputs, metrics, timings and log.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a stage's last run: outputs, metrics, log tail, timings.")

    @OptionGroup var options: ManifestOptions

    @Argument(help: "The stage to show.")
    var stage: String

    @Flag(help: "Print the whole log instead of its tail.")
    var log = false

    @Flag(help: "Print machine-readable output.")
    var json = false

    func run() async throws {
        let (manifest, cache) = try options.load()
        guard manifest.stage(stage) != nil else {
            throw UsageError("no stage named '\(stage)'" + Suggestion.hint(for: stage, in: manifest.stages.map(\.name)))
        }
        let runner = try PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions())
        runner.notices.forEach { Terminal.error("warning: " + $0) }
        let status = runner.status().first { $0.stage == stage }
        let currentRecord = try status?.key.flatMap { try cache.runs.load($0) }
        guard let record = try currentRecord ?? StageRuns(manifest: manifest, cache: cache).last(stage) else {
            throw UsageError("stage '\(stage)' has not run yet (pipe run \(manifest.displayPath) \(stage))")
        }
        let key = record.key
        let current = status?.state == .fresh && status?.key == key
        let fullLog: String? = record.log.flatMap { blob in
            var data = Data()
            return (try? cache.objects.read(blob) { data.append(contentsOf: $0) }).map { String(decoding: data, as: UTF8.self) }
        }
        if json {
            printJSON(.object([
                "stage": .string(stage), "key": .string(key), "current": .bool(current),
                "started": .string(ISO8601DateFormatter().string(from: record.started)),
                "seconds": .double(record.seconds),
                "metrics": .object(record.metrics.mapValues(JSONValue.double)),
                "outputs": .object(record.outputs.mapValues { tree in
                    .object(["id": .string(tree.id), "bytes": .int(tree.size), "stored_bytes": .int(tree.storedSize),
                             "files": .array(tree.files.map { .object(["path": .string($0.path), "bytes": .int($0.size)]) })])
                }),
                "log": log ? .string(fullLog ?? "") : .array(record.logTail.map(JSONValue.string)),
            ]))
            return
        }
        print("\(Terminal.bold(stage)) (\(record.uses))  key \(key)\(current ? "" : Terminal.color("  [stale: showing the last run]", 33))")
        print("ran \(ISO8601DateFormatter().string(from: record.started)) in \(Terminal.duration(record.seconds))")
        print("\n" + Terminal.bold("outputs"))
        for (name, tree) in record.outputs.sorted(by: { $0.key < $1.key }) {
            print("  \(name)  \(tree.id)  \(tree.files.count) files, \(bytes(tree.size)) (\(bytes(tree.storedSize)) stored)")
            for file in tree.files.prefix(8) { print(Terminal.dim("    \(file.path)  \(bytes(file.size))")) }
            if tree.files.count > 8 { print(Terminal.dim("    … \(tree.files.count - 8) more")) }
        }
        if !record.metrics.isEmpty {
            print("\n" + Terminal.bold("metrics"))
            for (name, value) in record.metrics.sorted(by: { $0.key < $1.key }) { print("  \(name)  \(value)") }
        }
        print("\n" + Terminal.bold(log ? "log" : "log (last lines; --log for all)"))
        let lines = log ? (fullLog ?? "").split(separator: "\n", omittingEmptySubsequences: false).map(String.init) : record.logTail
        print(lines.isEmpty ? Terminal.dim("  (empty)") : lines.map { "  " + $0 }.joined(separator: "\n"))
    }
}

/// `1.2 MiB`.
func bytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n), unit = 0
    while value >= 1024 && unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(n) B" : String(format: "%.1f %@", value, units[unit])
}
