import Foundation

/// A name for "the current model" (`models/<alias>.json` in the workspace): the promoted
/// model and tokenizer (their artifact ids and the folder holding their files), why they were
/// promoted, and the earlier promotions, most recent first. Written atomically by the `promote`
/// stage and by `pipe promote --rollback`; `pipe serve --alias` follows it.
public struct ModelAlias: Codable, Equatable, Sendable {
    /// One promotion.
    public struct Entry: Codable, Equatable, Sendable {
        /// Artifact ids of the model and its tokenizer.
        public var model: String
        public var tokenizer: String
        /// The folder with `model/` and `tokenizer/`, relative to the registry folder.
        public var folder: String
        /// The stage that promoted it, and when (ISO 8601).
        public var stage: String
        public var time: String
        /// Why: the decision's reasons.
        public var reasons: [String]

        public init(model: String, tokenizer: String, folder: String, stage: String, time: String, reasons: [String]) {
            self.model = model
            self.tokenizer = tokenizer
            self.folder = folder
            self.stage = stage
            self.time = time
            self.reasons = reasons
        }
    }

    public var alias: String
    public var current: Entry
    /// Earlier promotions, most recent first.
    public var history: [Entry]
    /// Promotions undone by a rollback, most recent first (kept for the record).
    public var rolledBack: [Entry]

    public init(alias: String, current: Entry) {
        self.alias = alias
        self.current = current
        history = []
        rolledBack = []
    }

    /// What is wrong with an alias name, if anything (it names a file).
    public static func problem(name: String) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(allowed.contains), !name.hasPrefix(".") else {
            return "an alias is 1 to 64 letters, digits, '_', '-' or '.', not starting with '.'"
        }
        return nil
    }

    /// A registry folder as the manifest or the command line names it: absolute, or relative to
    /// the workspace.
    public static func registry(_ path: String, workspace: URL) -> URL {
        path.hasPrefix("/") ? URL(fileURLWithPath: path) : workspace.appendingPathComponent(path)
    }

    /// The record's file in a registry folder.
    public static func file(_ alias: String, registry: URL) -> URL { registry.appendingPathComponent("\(alias).json") }

    /// The record, or nil when the alias was never promoted; an error names a damaged file.
    public static func read(_ alias: String, registry: URL) throws -> ModelAlias? {
        let url = file(alias, registry: registry)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let data = try Data(contentsOf: url)
        guard data.count <= 16 << 20 else { throw StageError("\(url.path): \(data.count) bytes; an alias record is at most 16 MiB") }
        do {
            return try JSONDecoder().decode(ModelAlias.self, from: data)
        } catch {
            throw StageError("\(url.path): not an alias record: \(error)")
        }
    }

    /// Replaces the record atomically.
    public func write(registry: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try FileManager.default.createDirectory(at: registry, withIntermediateDirectories: true)
        try AtomicFile.write(encoder.encode(self), to: Self.file(alias, registry: registry))
    }

    /// Makes `entry` current; the current one joins the history.
    public mutating func promote(_ entry: Entry) {
        history.insert(current, at: 0)
        current = entry
    }

    /// Restores the previous promotion; the current one is kept in `rolledBack`.
    public mutating func rollBack() throws {
        guard !history.isEmpty else { throw StageError("alias '\(alias)' has no earlier promotion to roll back to") }
        rolledBack.insert(current, at: 0)
        current = history.removeFirst()
    }
}
