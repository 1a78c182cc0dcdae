import ArgumentParser
import Foundation
import PipeEngine

/// `pipe report`: writes the HTML report of a manifest's last results.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report", abstract: "Write a self-contained HTML report of a pipeline's last results (charts, tables, no network).")

    @OptionGroup var options: ManifestOptions

    @Option(name: .shortAndLong, help: "Where to write the report (default: out/<pipeline>-report.html).")
    var output: String?

    func run() throws {
        let (manifest, cache) = try options.load()
        let results = try PipelineResults(manifest: manifest, cache: cache)
        guard !results.stages.isEmpty || !(results.study?.trials.isEmpty ?? true) else { throw UsageError("nothing of \(manifest.displayPath) has run yet; run it first") }
        let path = output ?? "out/\(manifest.name)-report.html"
        let url = URL(fileURLWithPath: path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(HTMLReport(results: results).html.utf8).write(to: url, options: .atomic)
        print(path)
    }
}
