import Foundation
import PipeKit

/// Computes a stage's key parts: code identity, parameters, input ids, external files and
/// environment probes.
final class KeyBuilder: @unchecked Sendable {
    private let cache: Cache
    private let workspace: URL
    private let mutex = NSLock()
    private var probeDigests: [String: String] = [:]
    private var pluginDigests: [String: String] = [:]

    init(cache: Cache, workspace: URL) {
        self.cache = cache
        self.workspace = workspace
    }

    func parts(for stage: ManifestStage, inputs: [String: ArtifactTree]) throws -> KeyParts {
        let d = stage.descriptor
        var external: [String: String] = [:]
        for input in try d.externalInputs(stage.params) {
            external[ExternalHasher.describe(input)] = try ExternalHasher.digest(input, workspace: workspace, stats: cache.stats)
        }
        var environment: [String: String] = [:]
        let code: String
        switch d.origin {
        case .builtin(let builtin):
            code = "builtin@\(builtin.version)"
        case .plugin(let plugin):
            code = "plugin@\(plugin.version):" + (try pluginDigest(plugin))
            for probe in plugin.probes {
                environment[probe.joined(separator: " ")] = probeDigest(probe, folder: plugin.folder)
            }
        }
        return KeyParts(kind: d.name, code: code, params: stage.params, inputs: inputs.mapValues(\.id),
                        external: external, environment: environment)
    }

    /// Runs every environment probe of `stages` at once, so a run waits for the slowest probe
    /// rather than for their sum.
    func prefetchProbes(_ stages: [ManifestStage]) {
        var pending: [([String], URL)] = []
        for stage in stages {
            guard case .plugin(let plugin) = stage.descriptor.origin else { continue }
            for probe in plugin.probes where !pending.contains(where: { $0.0 == probe && $0.1 == plugin.folder }) {
                pending.append((probe, plugin.folder))
            }
        }
        let group = DispatchGroup()
        for (probe, folder) in pending {
            group.enter()
            BlockingThreads.shared.run {
                _ = self.probeDigest(probe, folder: folder)
                group.leave()
            }
        }
        group.wait()
    }

    private func pluginDigest(_ plugin: PluginDefinition) throws -> String {
        if let known = mutex.withLock({ pluginDigests[plugin.folder.path] }) { return known }
        let digest = try PluginFolderHash.digest(plugin.folder, stats: cache.stats)
        mutex.withLock { pluginDigests[plugin.folder.path] = digest }
        return digest
    }

    private func probeDigest(_ command: [String], folder: URL) -> String {
        let id = folder.path + "\u{0}" + command.joined(separator: "\u{0}")
        if let known = mutex.withLock({ probeDigests[id] }) { return known }
        let digest = EnvironmentProbe.digest(command, in: folder)
        mutex.withLock { probeDigests[id] = digest }
        return digest
    }
}
