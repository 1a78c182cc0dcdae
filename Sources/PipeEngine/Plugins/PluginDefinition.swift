import Foundation
import PipeKit

/// An external plugin: a folder with a `stage.yaml` and any executable behind it.
public struct PluginDefinition: Sendable {
    /// The plugin folder (absolute).
    public var folder: URL
    /// `uses:` as written in the manifest (`./stages/examples/lowercase`).
    public var reference: String
    public var name: String
    public var version: Int
    public var description: String
    /// The command, run inside the plugin folder.
    public var run: [String]
    public var inputs: [StagePort]
    public var outputs: [StagePort]
    public var parameters: [ParamSpec]
    /// Commands whose output describes the environment the plugin runs on (`[python3, --version]`).
    public var probes: [[String]]
    /// Parameters whose values are paths the plugin reads outside the cache (hashed into the key).
    public var external: [String]

    /// The external inputs named by the `external:` parameters.
    func externalInputs(_ params: JSONValue) -> [ExternalInput] {
        external.flatMap { name -> [ExternalInput] in
            switch params[name] {
            case .string(let path)?: return [ExternalInput(path: path)]
            case .array(let items)?: return items.compactMap(\.stringValue).map { ExternalInput(path: $0) }
            default: return []
            }
        }
    }

    public var descriptor: StageDescriptor {
        StageDescriptor(name: name, summary: description, inputs: inputs, outputs: outputs,
                        parameters: parameters, origin: .plugin(self))
    }
}

/// Reads `stage.yaml` files.
public enum PluginLoader {
    static let stageFile = "stage.yaml"

    /// Loads the plugin at `reference` (a path relative to `workspace`), adding problems to `sink`.
    static func load(reference: String, workspace: URL, at location: SourceLocation,
                     sink: inout DiagnosticSink) -> PluginDefinition?
    {
        let folder = reference.hasPrefix("/")
            ? URL(fileURLWithPath: reference).standardizedFileURL
            : workspace.appendingPathComponent(reference).standardizedFileURL
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            sink.error(location, "plugin folder '\(reference)' does not exist")
            return nil
        }
        let file = folder.appendingPathComponent(stageFile)
        guard FileManager.default.fileExists(atPath: file.path) else {
            sink.error(location, "plugin folder '\(reference)' has no \(stageFile)")
            return nil
        }
        let display = (reference.hasSuffix("/") ? reference : reference + "/") + stageFile
        do {
            let root = try YAMLLoader.load(file: file, displayPath: display)
            return parse(root, folder: folder, reference: reference, sink: &sink)
        } catch let error as ManifestError {
            for d in error.diagnostics { sink.error(d.location, d.message) }
            return nil
        } catch {
            sink.error(location, "cannot read \(display): \(error)")
            return nil
        }
    }

    /// Loads a plugin folder outside any manifest (for `pipe stages`).
    public static func load(folder: URL, reference: String) throws -> PluginDefinition {
        var sink = DiagnosticSink()
        let here = SourceLocation(file: reference, line: 1, column: 1)
        let plugin = load(reference: folder.path, workspace: folder, at: here, sink: &sink)
        try sink.throwIfAny()
        var result = plugin!
        result.reference = reference
        return result
    }

    private static let fields: Set<String> = ["name", "version", "description", "run", "inputs", "outputs",
                                              "params", "probes", "external"]

    private static func parse(_ root: YAMLNode, folder: URL, reference: String,
                              sink: inout DiagnosticSink) -> PluginDefinition?
    {
        guard let entries = root.entries else {
            sink.error(root.location, "stage.yaml must be a map")
            return nil
        }
        for e in entries where !fields.contains(e.key) {
            sink.error(e.keyLocation, "unknown field '\(e.key)' in stage.yaml" + Suggestion.hint(for: e.key, in: fields))
        }
        let before = sink.items.count
        let name = root["name"]?.string
        if name == nil { sink.error(root["name"]?.location ?? root.location, "stage.yaml needs 'name' (a string)") }
        var version = 1
        if let v = root["version"] {
            if case .scalar(.int(let i)) = v.value { version = Int(i) }
            else { sink.error(v.location, "'version' must be an int") }
        }
        let run = stringList(root["run"], field: "run", sink: &sink)
        if run.isEmpty { sink.error(root["run"]?.location ?? root.location, "stage.yaml needs 'run': the command as a list, e.g. [python3, main.py]") }
        let inputs = ports(root["inputs"], sink: &sink)
        let outputs = ports(root["outputs"], sink: &sink)
        if outputs.isEmpty { sink.error(root["outputs"]?.location ?? root.location, "stage.yaml declares no outputs") }
        let parameters = params(root["params"], sink: &sink)
        var probes: [[String]] = []
        if let p = root["probes"] {
            if let items = p.items {
                probes = items.map { stringList($0, field: "probes", sink: &sink) }
            } else { sink.error(p.location, "'probes' must be a list of commands") }
        }
        let external = stringList(root["external"], field: "external", sink: &sink)
        for name in external where !parameters.contains(where: { $0.name == name }) {
            sink.error(root["external"]!.location, "'external' names '\(name)', which is not a declared parameter")
        }
        checkSymlinks(folder, reference: reference, at: root.location, sink: &sink)
        guard sink.items.count == before, let name else { return nil }
        return PluginDefinition(folder: folder, reference: reference, name: name, version: version,
                                description: root["description"]?.string ?? "", run: run, inputs: inputs,
                                outputs: outputs, parameters: parameters, probes: probes,
                                external: external)
    }

    private static func stringList(_ node: YAMLNode?, field: String, sink: inout DiagnosticSink) -> [String] {
        guard let node else { return [] }
        guard let items = node.items, items.allSatisfy({ $0.string != nil }) else {
            sink.error(node.location, "'\(field)' must be a list of strings")
            return []
        }
        return items.compactMap(\.string)
    }

    private static func ports(_ node: YAMLNode?, sink: inout DiagnosticSink) -> [StagePort] {
        guard let node else { return [] }
        guard let entries = node.entries else {
            sink.error(node.location, "ports must be a map of name to {kind, optional, doc}")
            return []
        }
        return entries.compactMap { e in
            if let kind = e.value.string { return StagePort(e.key, ArtifactKind(rawValue: kind)) }
            guard let kind = e.value["kind"]?.string else {
                sink.error(e.value.location, "port '\(e.key)' needs a 'kind' (documents, tokens, model, …)")
                return nil
            }
            let optional = e.value["optional"]?.scalar?.boolValue ?? false
            return StagePort(e.key, ArtifactKind(rawValue: kind), optional: optional, doc: e.value["doc"]?.string ?? "")
        }
    }

    private static func params(_ node: YAMLNode?, sink: inout DiagnosticSink) -> [ParamSpec] {
        guard let node else { return [] }
        guard let entries = node.entries else {
            sink.error(node.location, "'params' must be a map of name to {type, default, doc}")
            return []
        }
        return entries.compactMap { e in
            let typeText = e.value["type"]?.string ?? e.value.string
            guard let typeText, let type = ParamType(parsing: typeText) else {
                sink.error(e.value.location, "parameter '\(e.key)' needs a 'type': string, int, float, bool, any, list[T], map[T] or a|b|c")
                return nil
            }
            let hasDefault = e.value["default"] != nil
            let defaultValue: JSONValue? = hasDefault ? e.value["default"]!.json : nil
            return ParamSpec(e.key, type, default: defaultValue, doc: e.value["doc"]?.string ?? "")
        }
    }

    /// Refuses symlinks that lead outside the plugin folder: the folder's hash must cover its code.
    private static func checkSymlinks(_ folder: URL, reference: String, at location: SourceLocation,
                                      sink: inout DiagnosticSink)
    {
        let root = folder.resolvingSymlinksInPath().path
        let files: [String]
        do {
            files = try PluginFolderHash.files(in: folder)
        } catch {
            sink.error(location, "plugin '\(reference)': \(error)")
            return
        }
        for relative in files {
            let url = folder.appendingPathComponent(relative)
            guard (try? FileManager.default.destinationOfSymbolicLink(atPath: url.path)) != nil else { continue }
            let target = url.resolvingSymlinksInPath().path
            if !(target == root || target.hasPrefix(root + "/")) {
                sink.error(location, "plugin '\(reference)': '\(relative)' is a symlink to '\(target)', outside the plugin folder")
            }
        }
    }
}
