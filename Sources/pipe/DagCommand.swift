import ArgumentParser
import Foundation
import PipeEngine

/// `pipe dag MANIFEST`: the stage graph as a terminal tree, Graphviz dot or Mermaid.
struct DagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dag", abstract: "Show the stage graph.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case tree, dot, mermaid }

    @OptionGroup var options: ManifestOptions

    @Option(help: "tree (default), dot or mermaid.")
    var format: Format = .tree

    func run() async throws {
        let (manifest, _) = try options.load()
        switch format {
        case .tree: print(tree(manifest))
        case .dot: print(dot(manifest))
        case .mermaid: print(mermaid(manifest))
        }
    }

    /// Edges as (from stage, to stage, label).
    private func edges(_ manifest: Manifest) -> [(String, String, String)] {
        manifest.stages.flatMap { stage in
            stage.inputs.sorted { $0.key < $1.key }.map { ($0.value.stage, stage.name, "\($0.value.output) → \($0.key)") }
                + stage.needs.map { ($0, stage.name, "needs") }
        }
    }

    /// Stages indented by their depth, each with what feeds it.
    private func tree(_ manifest: Manifest) -> String {
        var depth: [String: Int] = [:]
        for stage in manifest.stages {
            depth[stage.name] = (stage.dependencies.compactMap { depth[$0] }.max() ?? -1) + 1
        }
        // Manifest order may list a stage before what it needs; settle depths.
        for _ in manifest.stages {
            for stage in manifest.stages {
                depth[stage.name] = (stage.dependencies.compactMap { depth[$0] }.max() ?? -1) + 1
            }
        }
        let ordered = manifest.stages.sorted { (depth[$0.name]!, $0.name) < (depth[$1.name]!, $1.name) }
        return ordered.map { stage in
            let indent = String(repeating: "  ", count: depth[stage.name]!)
            let marker = depth[stage.name]! == 0 ? "●" : "└─"
            var feeds = stage.inputs.sorted { $0.key < $1.key }.map { "\($0.value)" }
            feeds += stage.needs.map { "needs \($0)" }
            let from = feeds.isEmpty ? "" : Terminal.dim("  ← " + feeds.joined(separator: ", "))
            return "\(indent)\(marker) \(Terminal.bold(stage.name)) (\(stage.descriptor.name))\(from)"
        }.joined(separator: "\n")
    }

    private func dot(_ manifest: Manifest) -> String {
        var lines = ["digraph \"\(manifest.name)\" {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
        for stage in manifest.stages { lines.append("  \"\(stage.name)\" [label=\"\(stage.name)\\n(\(stage.descriptor.name))\"];") }
        for (from, to, label) in edges(manifest) {
            let style = label == "needs" ? ", style=dashed" : ""
            lines.append("  \"\(from)\" -> \"\(to)\" [label=\"\(label)\"\(style)];")
        }
        return (lines + ["}"]).joined(separator: "\n")
    }

    private func mermaid(_ manifest: Manifest) -> String {
        func id(_ s: String) -> String { s.replacingOccurrences(of: "-", with: "_") }
        var lines = ["flowchart LR"]
        for stage in manifest.stages { lines.append("  \(id(stage.name))[\"\(stage.name)<br/>(\(stage.descriptor.name))\"]") }
        for (from, to, label) in edges(manifest) {
            lines.append(label == "needs" ? "  \(id(from)) -.-> \(id(to))" : "  \(id(from)) -->|\(label)| \(id(to))")
        }
        return lines.joined(separator: "\n")
    }
}
