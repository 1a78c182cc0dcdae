import ArgumentParser
import Foundation
import PipeKit

/// `pipe promote ALIAS`: shows what an alias names and its history; `--rollback` restores the
/// previous promotion (a running `pipe serve --alias` follows it).
struct PromoteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Show an alias (the promote stage's record of the current model), or roll it back to the previous model.",
        discussion: """
        pipe promote current
        pipe promote current --rollback
        """)

    @Argument(help: "The alias.")
    var alias: String

    @Option(help: "The alias registry folder.")
    var registry = "models"

    @Option(name: .customShort("C"), help: "Use DIR as the workspace (default: the current folder).")
    var directory: String?

    @Flag(help: "Point the alias back at the model it named before the last promotion.")
    var rollback = false

    func run() throws {
        if let problem = ModelAlias.problem(name: alias) { throw UsageError("alias '\(alias)': \(problem)") }
        let workspace = URL(fileURLWithPath: directory ?? FileManager.default.currentDirectoryPath)
        let folder = ModelAlias.registry(registry, workspace: workspace)
        let record: ModelAlias?
        do {
            record = try ModelAlias.read(alias, registry: folder)
        } catch let error as StageError {
            throw UsageError(error.message)
        }
        guard var record else { throw UsageError("alias '\(alias)' has never been promoted: no \(ModelAlias.file(alias, registry: folder).path)") }
        if rollback {
            do {
                try record.rollBack()
            } catch let error as StageError {
                throw UsageError(error.message)
            }
            try record.write(registry: folder)
            print("alias '\(alias)' rolled back to model \(record.current.model) (promoted by \(record.current.stage) at \(record.current.time))")
        }
        print("\(alias): model \(record.current.model), tokenizer \(record.current.tokenizer), files \(folder.appendingPathComponent(record.current.folder).path)")
        print("  promoted by \(record.current.stage) at \(record.current.time): \(record.current.reasons.joined(separator: "; "))")
        for (n, entry) in record.history.enumerated() {
            print("  earlier \(n + 1): model \(entry.model) (\(entry.stage), \(entry.time))")
        }
    }
}
