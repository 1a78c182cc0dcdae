import ArgumentParser
import BuiltinStages
import Foundation
import PipeEngine
import PipeKit

/// `pipe stages`: every stage kind, built in or plugin, with its ports and parameters.
struct StagesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stages", abstract: "List stage kinds with their ports and parameters.")

    @Option(name: .customShort("C"), help: "Use DIR as the workspace (default: the current folder).")
    var directory: String?

    @Argument(help: "Stage kinds or plugin folders to show (default: every built-in kind and every stage.yaml under ./stages).")
    var kinds: [String] = []

    @Flag(help: "Print machine-readable output.")
    var json = false

    @Flag(help: "Print a JSON Schema of manifests using these kinds, for editors' completion and checks.")
    var schema = false

    func run() async throws {
        if let directory, !FileManager.default.changeCurrentDirectoryPath(directory) {
            throw UsageError("cannot change to folder '\(directory)'")
        }
        let workspace = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        let registry = BuiltinStages.registry
        let builtinNames = kinds.isEmpty ? registry.names : kinds.filter(registry.contains)
        var descriptors = builtinNames.map { registry.builtins[$0]! }
        let folders = kinds.isEmpty ? pluginFolders(workspace) : kinds.filter { !registry.contains($0) }.map(Self.folder)
        for folder in folders where !FileManager.default.fileExists(atPath: workspace.appendingPathComponent(folder + "/stage.yaml").path) {
            throw UsageError("'\(folder)' is neither a built-in stage kind nor a plugin folder"
                + Suggestion.hint(for: folder, in: registry.names))
        }
        var problems: [String] = []
        for folder in folders {
            let reference = "./" + folder
            do {
                descriptors.append(try PluginLoader.load(folder: workspace.appendingPathComponent(folder), reference: reference).descriptor)
            } catch {
                problems.append("\(error)")
            }
        }
        if schema {
            printJSON(ManifestSchema.schema(for: descriptors))
        } else if json {
            printJSON(.array(descriptors.map(describe)))
        } else {
            print(descriptors.map(render).joined(separator: "\n\n"))
        }
        for p in problems { Terminal.error(p) }
    }

    private static func folder(_ argument: String) -> String {
        argument.hasPrefix("./") ? String(argument.dropFirst(2)) : argument
    }

    private func pluginFolders(_ workspace: URL) -> [String] {
        let root = workspace.appendingPathComponent("stages")
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return [] }
        var found: [String] = []
        while let relative = walker.nextObject() as? String {
            if relative.split(separator: "/").count > 4 || relative.hasSuffix(".build") { walker.skipDescendants(); continue }
            if relative.hasSuffix("/stage.yaml") || relative == "stage.yaml" {
                found.append("stages/" + (relative as NSString).deletingLastPathComponent)
            }
        }
        return found.sorted()
    }

    private func origin(_ d: StageDescriptor) -> String {
        if case .plugin(let p) = d.origin { return "plugin \(p.reference), version \(p.version)" }
        if case .builtin(let b) = d.origin { return "built in, version \(b.version)" }
        return ""
    }

    private func render(_ d: StageDescriptor) -> String {
        var lines = ["\(Terminal.bold(d.name))  \(Terminal.dim(origin(d)))"]
        if !d.summary.isEmpty { lines.append("  \(d.summary)") }
        func ports(_ title: String, _ ports: [StagePort]) {
            guard !ports.isEmpty else { return }
            lines.append("  \(title):")
            for p in ports {
                lines.append("    \(p.name) (\(p.kind)\(p.optional ? ", optional" : ""))" + (p.doc.isEmpty ? "" : "  \(p.doc)"))
            }
        }
        ports("inputs", d.inputs)
        ports("outputs", d.outputs)
        if !d.parameters.isEmpty {
            lines.append("  parameters:")
            for p in d.parameters { params(p, indent: "    ", into: &lines) }
        }
        return lines.joined(separator: "\n")
    }

    private func params(_ p: ParamSpec, indent: String, into lines: inout [String]) {
        let value = (p.defaultValue.map { "default \($0.canonicalJSON)" } ?? "required") + (p.range.map { ", \($0)" } ?? "")
        lines.append("\(indent)\(p.name): \(p.type)  \(Terminal.dim(value))" + (p.doc.isEmpty ? "" : "  \(p.doc)"))
        for f in p.type.declaredFields { params(f, indent: indent + "  ", into: &lines) }
    }

    private func describe(_ d: StageDescriptor) -> JSONValue {
        func param(_ p: ParamSpec) -> JSONValue {
            var fields: [String: JSONValue] = ["name": .string(p.name), "type": .string(p.type.description),
                                               "required": .bool(p.isRequired), "doc": .string(p.doc)]
            if let v = p.defaultValue { fields["default"] = v }
            if let r = p.range { fields["range"] = .string(r.description) }
            let nested = p.type.declaredFields
            if !nested.isEmpty { fields["fields"] = .array(nested.map(param)) }
            return .object(fields)
        }
        func port(_ p: StagePort) -> JSONValue {
            .object(["name": .string(p.name), "kind": .string(p.kind.rawValue), "optional": .bool(p.optional), "doc": .string(p.doc)])
        }
        return .object([
            "name": .string(d.name), "origin": .string(origin(d)), "summary": .string(d.summary),
            "inputs": .array(d.inputs.map(port)), "outputs": .array(d.outputs.map(port)),
            "parameters": .array(d.parameters.map(param)),
        ])
    }
}
