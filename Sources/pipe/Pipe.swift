import ArgumentParser
import Foundation
import PipeEngine
import Transformer

/// `pipe`: runs declared ML data and training pipelines, rerunning only what is stale.
@main
struct Pipe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pipe",
        abstract: "Run ML pipelines declared in YAML: only stale stages run, everything is cached by content.",
        version: PipeVersion.current,
        subcommands: [RunCommand.self, StatusCommand.self, DagCommand.self, ShowCommand.self, StagesCommand.self,
                      VerifyCommand.self, GCCommand.self, NewStageCommand.self,
                      EncodeCommand.self, DecodeCommand.self, GenerateCommand.self, ServeCommand.self, PromoteCommand.self, ReportCommand.self,
                      SweepCommand.self,
                      ExecStageCommand.self]
    )

    /// Parses and runs, mapping errors to pipe's exit codes: 2 for usage or manifest errors.
    static func main() async {
        OpenBLASCore.restartWithMatchingKernelsIfMisdetected()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ManifestError {
            Terminal.error(error.description)
            Foundation.exit(ExitStatus.invalid)
        } catch let error as UsageError {
            Terminal.error("error: \(error.message)")
            Foundation.exit(ExitStatus.invalid)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                Terminal.error(fullMessage(for: error))
                Foundation.exit(ExitStatus.invalid)
            }
            exit(withError: error)
        }
    }
}

/// pipe's exit codes.
enum ExitStatus {
    static let ok: Int32 = 0
    static let stageFailed: Int32 = 1
    static let invalid: Int32 = 2
    static let interrupted: Int32 = 130
}

/// A mistake in how pipe was called (exit code 2).
struct UsageError: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

enum PipeVersion {
    static let current = "0.1.0"
}
