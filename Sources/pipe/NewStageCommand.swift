import ArgumentParser
import Foundation

/// `pipe new-stage NAME --lang python|shell|swift`: scaffolds a working plugin.
struct NewStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new-stage", abstract: "Create a working stage plugin (a documents filter) to edit.")

    @Argument(help: "The stage's name (lowercase letters, digits and '-').")
    var name: String

    @Option(help: "python, shell or swift.")
    var lang: StageTemplates.Language = .python

    @Option(help: "Folder to create it in (default: stages/NAME).")
    var dir: String?

    @Option(help: "For --lang swift: the pipe source folder providing PipeKit (default: the one this pipe was built from).")
    var sdk: String?

    @Option(name: .customShort("C"), help: "Use DIR as the workspace (default: the current folder).")
    var directory: String?

    func run() throws {
        if let directory, !FileManager.default.changeCurrentDirectoryPath(directory) {
            throw UsageError("cannot change to folder '\(directory)'")
        }
        guard let first = name.first, first.isLetter, name.allSatisfy({ ($0.isLetter && $0.isLowercase) || $0.isNumber || $0 == "-" }) else {
            throw UsageError("stage names use lowercase letters, digits and '-', starting with a letter: '\(name)'")
        }
        let folder = URL(fileURLWithPath: dir ?? "stages/\(name)")
        if FileManager.default.fileExists(atPath: folder.path) {
            throw UsageError("'\(folder.relativePath)' already exists")
        }
        let sdkPath = sdk ?? Self.sourceRoot
        if lang == .swift, !FileManager.default.fileExists(atPath: sdkPath + "/Package.swift") {
            throw UsageError("no pipe sources at '\(sdkPath)'; pass --sdk with the folder of pipe's Package.swift")
        }
        for file in StageTemplates.files(name: name, language: lang, sdkPath: sdkPath) {
            let url = folder.appendingPathComponent(file.path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(file.text.utf8).write(to: url)
            if file.executable { chmod(url.path, 0o755) }
            print("created \(folder.relativePath)/\(file.path)")
        }
        print("""

        Use it in a manifest:

          \(name):
            uses: ./\(folder.relativePath)
            inputs: {documents: <stage>.documents}

        `pipe stages` lists it with its parameters.
        """)
    }

    /// The folder holding pipe's Package.swift, from where this file was compiled.
    static let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path
}

extension StageTemplates.Language: ExpressibleByArgument {}
