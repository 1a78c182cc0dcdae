import ArgumentParser
import Foundation
import PipeEngine
import PipeKit

/// `pipe status MANIFEST`: which stages are fresh, which are stale, and why.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show each stage as fresh, stale or never run, with the reasons.")

    @OptionGroup var options: ManifestOptions

    @Flag(help: "Print machine-readable output.")
    var json = false

    func run() async throws {
        let (manifest, cache) = try options.load()
        let runner = try PipelineRunner(manifest: manifest, cache: cache, observer: SilentObserver(), options: RunOptions())
        runner.notices.forEach { Terminal.error("warning: " + $0) }
        let statuses = runner.status()
        if json {
            printJSON(.array(statuses.map { s in
                .object([
                    "stage": .string(s.stage), "state": .string(s.state.rawValue),
                    "reasons": .array(s.reasons.map { .string($0.description) }),
                    "key": s.key.map(JSONValue.string) ?? .null,
                ])
            }))
            return
        }
        let rows = statuses.map { s -> [String] in
            let state: String
            switch s.state {
            case .fresh: state = Terminal.color("fresh", 32)
            case .stale: state = Terminal.color("stale", 33)
            case .neverRun: state = Terminal.color("never run", 33)
            }
            return [s.stage, state, s.reasons.map(\.description).joined(separator: "; ")]
        }
        print(Terminal.table(["stage", "state", "why"], rows))
        let stale = statuses.filter { $0.state != .fresh }.count
        print(stale == 0 ? "\nAll \(statuses.count) stages are up to date." : "\n\(stale) of \(statuses.count) stages would run.")
    }
}
