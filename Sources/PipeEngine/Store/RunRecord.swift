import Foundation
import PipeKit

/// What a finished stage run produced: written last, so its presence means the run completed.
public struct RunRecord: Sendable, Codable {
    public var format: Int
    public var key: String
    public var stage: String
    public var uses: String
    public var parts: KeyParts
    public var outputs: [String: ArtifactTree]
    public var metrics: [String: Double]
    /// The intermediate metrics the stage reported while it ran (`val.loss` at each evaluation).
    public var curves: [String: [MetricPoint]]?
    /// The blob holding the stage's whole log.
    public var log: String?
    public var logTail: [String]
    public var started: Date
    public var seconds: Double
    /// What the stage warned about (shown again when the result is reused).
    public var warnings: [String]?
    /// When the `pipe run` that computed this record started (shared by the stages it computed).
    public var run: Date?

    /// Whether every output object is in the store.
    public func isComplete(in store: ObjectStore) -> Bool {
        outputs.values.allSatisfy { $0.isPresent(in: store) }
    }
}

/// Run records by key: `runs/<key>.json`.
public struct RunStore: Sendable {
    public let root: URL

    public init(cacheRoot: URL) { root = cacheRoot.appendingPathComponent("runs") }

    func url(_ key: String) -> URL { root.appendingPathComponent(key + ".json") }

    /// The record of `key`, or nil when there is none. A record that cannot be read or decoded
    /// is an error naming its file.
    public func load(_ key: String) throws -> RunRecord? {
        let file = url(key)
        let data: Data
        do {
            guard let present = try FileSystem.readIfPresent(file) else { return nil }
            data = present
        } catch {
            throw StageError("cannot read the run record \(file.path): \(FileSystem.reason(error))")
        }
        do {
            return try Self.decoder.decode(RunRecord.self, from: data)
        } catch {
            throw StageError("the run record \(file.path) is corrupt (\(error))")
        }
    }


    public func save(_ record: RunRecord) throws {
        try FileSystem.writeAtomically(try Self.encoder.encode(record), to: url(record.key))
    }

    public func remove(_ key: String) { try? FileManager.default.removeItem(at: url(key)) }

    public func allKeys() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
            .map { String($0.dropLast(5)) }
            .sorted()
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        e.dateEncodingStrategy = .iso8601
        return e
    }()

    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }()
}
