import Foundation
import PipeKit

/// Reads, interpolates and validates a manifest, reporting every problem at once.
public struct ManifestLoader {
    public var registry: StageRegistry
    public var workspace: URL

    public init(registry: StageRegistry, workspace: URL) {
        self.registry = registry
        self.workspace = workspace
    }

    static let topLevelFields: Set<String> = ["version", "name", "params", "stages", "cache", "description", "executor", "sweep"]
    static let stageFields: Set<String> = ["uses", "inputs", "with", "needs", "timeout", "publish", "resources", "description"]

    /// Loads `url`. `overrides` are `--set name=value` pairs applied to `params:`.
    public func load(_ url: URL, displayPath: String, overrides: [(String, String)] = []) throws -> Manifest {
        try load(try YAMLLoader.load(file: url, displayPath: displayPath), url: url, displayPath: displayPath,
                 overrides: overrides)
    }

    /// Loads the manifest `root` that was parsed from `url` (`YAMLLoader.load(file:)`), so that
    /// a sweep parses its manifest once and loads it with each trial's params.
    public func load(_ root: YAMLNode, url: URL, displayPath: String, overrides: [(String, String)] = []) throws -> Manifest {
        var sink = DiagnosticSink()
        guard let entries = root.entries else {
            throw ManifestError([Diagnostic(root.location, "a manifest must be a map with version, name and stages")])
        }
        for e in entries where !Self.topLevelFields.contains(e.key) {
            sink.error(e.keyLocation, "unknown top-level field '\(e.key)'" + Suggestion.hint(for: e.key, in: Self.topLevelFields))
        }
        switch root["version"]?.scalar {
        case .int(1)?: break
        case nil: sink.error(root.location, "missing 'version: 1'")
        default: sink.error(root["version"]!.location, "unsupported manifest version \(root["version"]!.json.canonicalJSON); this pipe reads version 1")
        }
        let name = root["name"]?.string ?? ""
        if root["name"] == nil { sink.error(root.location, "missing 'name'") }
        else if name.isEmpty { sink.error(root["name"]!.location, "'name' must be a non-empty string") }
        var cache: String?
        if let c = root["cache"] {
            if let s = c.string { cache = s } else { sink.error(c.location, "'cache' must be a path") }
        }

        var executor: ExecutorKind?
        if let e = root["executor"] {
            executor = e.string.flatMap(ExecutorKind.init(rawValue:))
            if executor == nil {
                sink.error(e.location, "'executor' must be one of \(ExecutorKind.allCases.map(\.rawValue).joined(separator: ", "))"
                    + (e.string.flatMap { Suggestion.closest(to: $0, in: ExecutorKind.allCases.map(\.rawValue)) }.map { "; did you mean '\($0)'?" } ?? ""))
            }
        }

        let params = loadParams(root["params"], overrides: overrides, sink: &sink)

        var stages: [ManifestStage] = []
        if let stagesNode = root["stages"] {
            if let stageEntries = stagesNode.entries {
                if stageEntries.isEmpty { sink.error(stagesNode.location, "'stages' is empty") }
                let interpolator = Interpolator(params: params)
                var parsed: [(YAMLNode.Entry, YAMLNode)] = []
                var failedInterpolation = Set<String>()
                for entry in stageEntries {
                    let before = sink.items.count
                    parsed.append((entry, interpolator.apply(entry.value, sink: &sink)))
                    if sink.items.count > before { failedInterpolation.insert(entry.key) }
                }
                stages = parsed.compactMap { entry, node in
                    // A failed reference already has its message; checking its placeholder would repeat it.
                    loadStage(entry, node, checkParams: !failedInterpolation.contains(entry.key), sink: &sink)
                }
                let known = Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
                var targets: [PublishTarget] = []
                // Stages defined but not loaded already have their error; naming them again
                // from their dependents would only repeat it.
                let failed = Set(stageEntries.map(\.key)).subtracting(known.keys)
                stages = stages.map { stage in
                    checkWiring(stage, node: parsed.first { $0.0.key == stage.name }!.1, known: known, failed: failed,
                                targets: &targets, sink: &sink)
                }
                checkPublishTargets(targets, manifest: url, workspace: workspace, sink: &sink)
                if sink.isEmpty { checkCycles(stages, sink: &sink) }
            } else {
                sink.error(stagesNode.location, "'stages' must be a map of stage name to definition")
            }
        } else {
            sink.error(root.location, "missing 'stages'")
        }
        let sweep = root["sweep"].flatMap {
            SweepBlock.parse($0, params: params, stages: Set(root["stages"]?.entries?.map(\.key) ?? []), manifestName: name, sink: &sink)
        }
        try sink.throwIfAny()
        return Manifest(url: url, displayPath: displayPath, workspace: workspace, name: name, params: params,
                        cache: cache, executor: executor, overrides: overrides.map { [$0.0, $0.1] }, stages: stages, sweep: sweep)
    }

    // MARK: - Params

    private func loadParams(_ node: YAMLNode?, overrides: [(String, String)], sink: inout DiagnosticSink) -> [String: JSONValue] {
        var params: [String: JSONValue] = [:]
        if let node {
            if let entries = node.entries {
                for e in entries { params[e.key] = e.value.json }
            } else {
                sink.error(node.location, "'params' must be a map")
            }
        }
        for (key, text) in overrides {
            guard ParamPath.value(at: key, in: params) != nil else {
                sink.error(nil, "--set \(key)=\(text): the manifest has no parameter '\(key)'"
                    + Suggestion.hint(for: key, in: ParamPath.all(in: params)))
                continue
            }
            do {
                _ = ParamPath.set(try YAMLLoader.parse(Data(text.utf8), displayPath: "--set \(key)").json, at: key, in: &params)
            } catch {
                sink.error(nil, "--set \(key)=\(text): not a valid value")
            }
        }
        return params
    }

    // MARK: - Stages

    private func loadStage(_ entry: YAMLNode.Entry, _ node: YAMLNode, checkParams: Bool,
                           sink: inout DiagnosticSink) -> ManifestStage? {
        let name = entry.key
        if !Self.isValidStageName(name) {
            sink.error(entry.keyLocation, "stage name '\(name)' must start with a letter or digit and contain only letters, digits, '-' and '_'")
        }
        guard let fields = node.entries else {
            sink.error(node.location, "stage '\(name)' must be a map with at least 'uses'")
            return nil
        }
        for f in fields where !Self.stageFields.contains(f.key) {
            sink.error(f.keyLocation, "unknown field '\(f.key)' in stage '\(name)'" + Suggestion.hint(for: f.key, in: Self.stageFields))
        }
        guard let usesNode = node["uses"] else {
            sink.error(entry.keyLocation, "stage '\(name)' needs 'uses' (a stage kind or ./path/to/plugin)")
            return nil
        }
        guard let uses = usesNode.string, !uses.isEmpty else {
            sink.error(usesNode.location, "'uses' must be a stage kind name or a plugin path")
            return nil
        }
        let descriptor: StageDescriptor
        if uses.hasPrefix("./") || uses.hasPrefix("../") || uses.hasPrefix("/") {
            guard let plugin = PluginLoader.load(reference: uses, workspace: workspace, at: usesNode.location, sink: &sink) else {
                return nil
            }
            descriptor = plugin.descriptor
        } else if let builtin = registry.builtins[uses] {
            descriptor = builtin
        } else {
            let known = registry.names.isEmpty ? "none are built in" : "known: " + registry.names.joined(separator: ", ")
            sink.error(usesNode.location, "unknown stage kind '\(uses)'" + (Suggestion.closest(to: uses, in: registry.names)
                .map { "; did you mean '\($0)'?" } ?? " (\(known); a plugin is used as ./path/to/folder)"))
            return nil
        }

        var validator = ParamValidator(sink: checkParams ? sink : DiagnosticSink())
        let params = validator.validateFields(node["with"], specs: descriptor.parameters, path: [],
                                              owner: "stage '\(name)' (\(descriptor.name))", fallback: entry.keyLocation)
        let paramsValid = validator.sink.items.count == (checkParams ? sink.items.count : 0)
        if checkParams { sink = validator.sink }
        if paramsValid && checkParams {
            for problem in descriptor.validate(params) {
                let location = locate(problem.path, in: validator.locations, fallback: node["with"]?.location ?? entry.keyLocation)
                let prefix = problem.path.isEmpty ? "" : "parameter '\(dotted(problem.path))': "
                sink.error(location, prefix + problem.message)
            }
        }

        var resources = StageResources()
        if let r = node["resources"] {
            var rv = ParamValidator(sink: sink)
            let fields = rv.validateFields(r, specs: StageResources.specs, path: [], owner: "resources of stage '\(name)'",
                                           fallback: r.location)
            sink = rv.sink
            resources = StageResources.parse(fields, locations: rv.locations, fallback: r.location, sink: &sink)
        }

        return ManifestStage(name: name, location: entry.keyLocation, uses: uses, descriptor: descriptor, params: params,
                             inputs: [:], needs: [], timeout: parseTimeout(node["timeout"], sink: &sink),
                             publish: [:], resources: resources)
    }

    private func locate(_ path: [String], in locations: [[String]: SourceLocation], fallback: SourceLocation) -> SourceLocation {
        var p = path
        while !p.isEmpty {
            if let l = locations[p] { return l }
            p.removeLast()
        }
        return fallback
    }

    static func isValidStageName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first.properties.isAlphabetic || ("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "-" || $0 == "_") }
    }

    private func parseTimeout(_ node: YAMLNode?, sink: inout DiagnosticSink) -> Double? {
        guard let node else { return nil }
        if let seconds = node.scalar?.doubleValue, seconds > 0 { return seconds }
        if let text = node.string, let seconds = Duration.parse(text) { return seconds }
        sink.error(node.location, "'timeout' must be a duration such as 90s, 15m, 2h or 1h30m")
        return nil
    }

    // MARK: - Wiring

    private func checkWiring(_ stage: ManifestStage, node: YAMLNode, known: [String: ManifestStage], failed: Set<String>,
                             targets: inout [PublishTarget], sink: inout DiagnosticSink) -> ManifestStage {
        var stage = stage
        let d = stage.descriptor
        if let inputsNode = node["inputs"] {
            if let entries = inputsNode.entries {
                for e in entries {
                    guard let port = d.input(e.key) else {
                        sink.error(e.keyLocation, "stage '\(stage.name)' (\(d.name)) has no input '\(e.key)'"
                            + Suggestion.hint(for: e.key, in: d.inputs.map(\.name))
                            + (d.inputs.isEmpty ? " (it takes no inputs)" : ""))
                        continue
                    }
                    guard let text = e.value.string, let dot = text.firstIndex(of: "."), dot != text.startIndex,
                          text.index(after: dot) != text.endIndex else {
                        sink.error(e.value.location, "input '\(e.key)' must be written stage.output, e.g. clean.documents")
                        continue
                    }
                    let ref = OutputRef(stage: String(text[..<dot]), output: String(text[text.index(after: dot)...]))
                    guard let upstream = known[ref.stage] else {
                        if !failed.contains(ref.stage) {
                            sink.error(e.value.location, "input '\(e.key)' names unknown stage '\(ref.stage)'"
                                + Suggestion.hint(for: ref.stage, in: known.keys))
                        }
                        continue
                    }
                    guard let output = upstream.descriptor.output(ref.output) else {
                        sink.error(e.value.location, "stage '\(ref.stage)' (\(upstream.descriptor.name)) has no output '\(ref.output)'"
                            + Suggestion.hint(for: ref.output, in: upstream.descriptor.outputs.map(\.name))
                            + " (outputs: \(upstream.descriptor.outputs.map(\.name).joined(separator: ", ")))")
                        continue
                    }
                    if !port.kind.accepts(output.kind) {
                        sink.error(e.value.location, "input '\(e.key)' of stage '\(stage.name)' takes \(port.kind), but \(ref) is \(output.kind)")
                        continue
                    }
                    stage.inputs[e.key] = ref
                }
            } else {
                sink.error(inputsNode.location, "'inputs' must be a map of port to stage.output")
            }
        }
        for port in d.inputs where !port.optional && stage.inputs[port.name] == nil && !(node["inputs"]?.entries?.contains { $0.key == port.name } ?? false) {
            sink.error(node["inputs"]?.location ?? stage.location,
                       "stage '\(stage.name)' (\(d.name)) needs input '\(port.name)' (\(port.kind))")
        }
        if let needsNode = node["needs"] {
            let items = needsNode.items ?? [needsNode]
            for item in items {
                guard let need = item.string else {
                    sink.error(item.location, "'needs' must list stage names")
                    continue
                }
                if known[need] == nil {
                    if !failed.contains(need) {
                        sink.error(item.location, "'needs' names unknown stage '\(need)'" + Suggestion.hint(for: need, in: known.keys))
                    }
                } else {
                    stage.needs.append(need)
                }
            }
        }
        if let publishNode = node["publish"] {
            if let entries = publishNode.entries {
                for e in entries {
                    if d.output(e.key) == nil {
                        sink.error(e.keyLocation, "stage '\(stage.name)' has no output '\(e.key)' to publish"
                            + Suggestion.hint(for: e.key, in: d.outputs.map(\.name)))
                        continue
                    }
                    guard let path = e.value.string, !path.isEmpty else {
                        sink.error(e.value.location, "publish target for '\(e.key)' must be a path")
                        continue
                    }
                    if !WorkspacePath.isInside(path, workspace: workspace) {
                        sink.error(e.value.location, "publish path '\(path)' is outside the workspace")
                        continue
                    }
                    stage.publish[e.key] = path
                    targets.append(PublishTarget(stage: stage.name, path: path, location: e.value.location))
                }
            } else {
                sink.error(publishNode.location, "'publish' must be a map of output to workspace path")
            }
        }
        return stage
    }

    // MARK: - Publish targets

    /// One `publish:` entry, where the manifest gives it.
    struct PublishTarget {
        var stage: String
        var path: String
        var location: SourceLocation
    }

    /// Publish targets may not name the manifest or its lock file, nor lie inside one another
    /// (republishing the outer folder would delete the inner copy).
    private func checkPublishTargets(_ targets: [PublishTarget], manifest: URL, workspace: URL, sink: inout DiagnosticSink) {
        func absolute(_ path: String) -> String {
            let url = path.hasPrefix("/") ? URL(fileURLWithPath: path) : workspace.appendingPathComponent(path)
            return url.standardizedFileURL.path
        }
        let own = [("the manifest", manifest.standardizedFileURL.path),
                   ("its lock file", manifest.deletingPathExtension().appendingPathExtension("lock").standardizedFileURL.path)]
        let resolved = targets.map { absolute($0.path) }
        for (i, target) in targets.enumerated() {
            if let (what, _) = own.first(where: { $0.1 == resolved[i] || $0.1.hasPrefix(resolved[i] + "/") }) {
                sink.error(target.location, "publish path '\(target.path)' would replace \(what)")
                continue
            }
            for j in 0..<i where resolved[i] == resolved[j] || resolved[i].hasPrefix(resolved[j] + "/")
                || resolved[j].hasPrefix(resolved[i] + "/")
            {
                sink.error(target.location, "publish path '\(target.path)' overlaps '\(targets[j].path)' published by stage '\(targets[j].stage)'")
            }
        }
    }

    // MARK: - Cycles

    private func checkCycles(_ stages: [ManifestStage], sink: inout DiagnosticSink) {
        let byName = Dictionary(stages.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if let cycle = Graph.findCycle(stages.map(\.name), edges: { byName[$0]?.dependencies ?? [] }) {
            let start = byName[cycle[0]]!
            sink.error(start.location, "dependency cycle: " + (cycle + [cycle[0]]).joined(separator: " -> "))
        }
    }
}

/// Parses durations such as `90`, `90s`, `15m`, `2h`, `1h30m`.
enum Duration {
    static func parse(_ text: String) -> Double? {
        var total = 0.0, number = "", sawUnit = false
        for ch in text {
            if ch.isNumber || ch == "." { number.append(ch); continue }
            guard let n = Double(number) else { return nil }
            switch ch {
            case "s": total += n
            case "m": total += n * 60
            case "h": total += n * 3600
            case "d": total += n * 86400
            default: return nil
            }
            number = ""
            sawUnit = true
        }
        if !number.isEmpty {
            guard let n = Double(number), !sawUnit else { return nil }
            total += n
        }
        return total > 0 ? total : nil
    }
}

/// Checks that a relative path stays inside the workspace.
enum WorkspacePath {
    static func isInside(_ path: String, workspace: URL) -> Bool {
        if path.hasPrefix("/") {
            let standardized = URL(fileURLWithPath: path).standardizedFileURL.path
            return standardized.hasPrefix(workspace.standardizedFileURL.path + "/")
        }
        var depth = 0
        for component in path.split(separator: "/") {
            if component == ".." { depth -= 1 } else if component != "." { depth += 1 }
            if depth < 0 { return false }
        }
        return depth > 0
    }
}
