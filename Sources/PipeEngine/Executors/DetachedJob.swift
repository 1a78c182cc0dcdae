import Foundation
import PipeKit

/// What `pipe exec-stage` needs to run one stage alone from the cache: how to load the same
/// manifest, the stage, the key it must reproduce, and its input artifacts (`job.json`).
public struct DetachedJobSpec: Sendable, Codable {
    public var format = 1
    public var manifest: String
    public var displayPath: String
    public var workspace: String
    public var overrides: [[String]]
    public var cacheRoot: String
    public var stage: String
    public var key: String
    public var inputs: [String: ArtifactTree]
    public var threads: Int
    /// The submitting host, for messages about a cache that is not shared.
    public var submitter: String
    /// For a job array: each task's units of a shardable stage, in order.
    public var groups: [[ShardSpec]]?
}

/// What `pipe exec-stage` leaves for the submitter (`result.json`): the outputs it ingested, or
/// the error, with the stage's log, metrics, curves and warnings.
public struct DetachedJobResult: Sendable, Codable {
    public var host: String
    public var outputs: [String: ArtifactTree]?
    public var error: String?
    public var log: String
    public var logTail: [String]
    public var metrics: [String: Double]
    /// Intermediate metrics the stage reported (absent from results of older versions).
    public var curves: [String: [MetricPoint]]?
    public var warnings: [String]
}

/// A folder in the cache holding one detached job: `job.json` (written by the submitter),
/// `result.json` (written by the job), and the launcher's output. It lives under `tmp/`, held by
/// the submitter, so a crashed submitter's folders are cleaned like any orphan.
final class DetachedJobFolder {
    let url: URL
    private let temp: TempFolder

    init(cache: Cache, manifest: Manifest, job: StageJob, groups: [[ShardSpec]]? = nil) throws {
        // The job recomputes the key: with the digests saved, it stats the external files
        // instead of reading them again (each task of an array would read them all).
        cache.stats.save()
        temp = try cache.makeTempFolder("job-\(job.stage.name)")
        url = temp.url
        let spec = DetachedJobSpec(manifest: manifest.url.path, displayPath: manifest.displayPath,
                                   workspace: manifest.workspace.path, overrides: manifest.overrides,
                                   cacheRoot: cache.root.path, stage: job.stage.name, key: job.key, inputs: job.inputs,
                                   threads: job.threads, submitter: HostName.current, groups: groups)
        try FileSystem.writeAtomically(try Self.encoder.encode(spec), to: specURL)
    }

    var specURL: URL { url.appendingPathComponent("job.json") }
    var resultURL: URL { url.appendingPathComponent("result.json") }
    var outputURL: URL { url.appendingPathComponent("output.log") }

    /// Where array task `index` writes its result and output.
    func resultURL(task index: Int) -> URL { url.appendingPathComponent("result-\(index).json") }
    func outputURL(task index: Int) -> URL { url.appendingPathComponent("output-\(index).log") }

    func remove() { temp.remove() }

    /// The job's result (or array task `task`'s), if it wrote one.
    func readResult(task: Int? = nil) -> DetachedJobResult? {
        guard let data = try? Data(contentsOf: task.map(resultURL(task:)) ?? resultURL) else { return nil }
        return try? JSONDecoder().decode(DetachedJobResult.self, from: data)
    }

    /// The last lines of the launcher's output file, for a job that died without a result.
    func outputTail(_ lines: Int = 20, task: Int? = nil) -> [String] {
        guard let text = try? String(contentsOf: task.map(outputURL(task:)) ?? outputURL, encoding: .utf8) else { return [] }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).map(String.init)
            .filter { !$0.isEmpty }
    }

    /// Turns a result into the stage's product, feeding its log, metrics, curves and warnings to
    /// `events` as if the stage had run here.
    func product(_ result: DetachedJobResult, events: StageEvents) throws -> StageProduct {
        events.absorb(log: result.log, metrics: result.metrics, curves: result.curves ?? [:], warnings: result.warnings)
        if let error = result.error { throw StageError(error) }
        guard let outputs = result.outputs else { throw StageError("the job on \(result.host) reported neither outputs nor an error") }
        return StageProduct(outputs: outputs)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// Writes `result` where the submitter looks for it (temp, fsync, rename): `result.json`, or
    /// `result-N.json` for array task N.
    static func write(_ result: DetachedJobResult, besides spec: URL, task: Int?) throws {
        let name = task.map { "result-\($0).json" } ?? "result.json"
        try FileSystem.writeAtomically(try encoder.encode(result), to: spec.deletingLastPathComponent().appendingPathComponent(name))
    }
}

/// This machine's host name.
enum HostName {
    static var current: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(cString: buffer)
    }
}
