import Foundation

/// What a running stage can reach: its inputs, its output folders, scratch space and reporting.
///
/// The engine builds one per run. Output folders start empty; whatever the stage leaves in them
/// when `run` returns becomes the output artifacts.
public final class StageContext: Sendable {
    /// The stage's name in the manifest.
    public let stageName: String
    /// The workspace root (where relative paths in the manifest resolve).
    public let workspace: URL
    /// Private scratch space, deleted after the run.
    public let scratch: URL
    /// A folder that survives a crash of this run (for checkpoints), removed once the run is recorded.
    public let work: URL
    /// How many threads the stage should use.
    public let threads: Int

    private let inputReaders: [String: any ArtifactReading]
    private let outputFolders: [String: URL]
    private let events: any StageEventSink

    public init(stageName: String, workspace: URL, inputs: [String: any ArtifactReading],
                outputs: [String: URL], scratch: URL, work: URL, threads: Int, events: any StageEventSink)
    {
        self.stageName = stageName
        self.workspace = workspace
        self.inputReaders = inputs
        self.outputFolders = outputs
        self.scratch = scratch
        self.work = work
        self.threads = max(1, threads)
        self.events = events
    }

    /// The artifact wired to input port `name`.
    public func input(_ name: String) throws -> any ArtifactReading {
        guard let reader = inputReaders[name] else {
            throw StageError("stage \(stageName): input '\(name)' is not connected")
        }
        return reader
    }

    /// The artifact wired to an optional input port, or nil.
    public func optionalInput(_ name: String) -> (any ArtifactReading)? { inputReaders[name] }

    /// The empty folder that becomes output `name`.
    public func output(_ name: String) throws -> URL {
        guard let url = outputFolders[name] else {
            throw StageError("stage \(stageName): no output named '\(name)'")
        }
        return url
    }

    /// Reports progress: `fraction` in 0...1 (nil when unknown) and a short message.
    public func progress(_ fraction: Double?, _ message: String = "") {
        events.progress(fraction: fraction, message: message)
    }

    /// Writes a line to the stage's log.
    public func log(_ line: String) { events.log(line) }

    /// Records a metric (`train.tokens_per_second`, `test.loss`, …) in the run record.
    public func metric(_ name: String, _ value: Double) { events.metric(name: name, value: value) }

    /// Reports an intermediate value while the stage runs (`val.loss` at step 400): the engine
    /// shows it, keeps the stage's curve in its run record, and a sweep's pruner may stop the
    /// stage on it (the stage then sees cancellation). A value that is not finite is ignored.
    public func report(_ name: String, step: Int, value: Double) {
        guard value.isFinite else { return }
        events.report(name: name, step: step, value: value)
    }

    /// Reports something the user should see in the run's summary without failing the stage
    /// (an unmet target under `gate: warn`, for instance).
    public func warn(_ message: String) { events.warn(message) }

    /// Throws `CancellationError` when the run was interrupted.
    public func checkCancellation() throws { try Task.checkCancellation() }
}

/// Receives what a running stage reports.
public protocol StageEventSink: Sendable {
    func progress(fraction: Double?, message: String)
    func log(_ line: String)
    func metric(name: String, value: Double)
    /// An intermediate value of metric `name` at `step` (see `StageContext.report`).
    func report(name: String, step: Int, value: Double)
    func warn(_ message: String)
}

/// One point of a stage's curve: the value an intermediate metric had at a step.
public struct MetricPoint: Sendable, Codable, Equatable {
    public var step: Int
    public var value: Double
    public init(step: Int, value: Double) {
        self.step = step
        self.value = value
    }
}

/// One file of an artifact.
public struct ArtifactFile: Sendable, Hashable, Codable {
    /// Path relative to the artifact root, `/`-separated.
    public var path: String
    /// Size in bytes (uncompressed).
    public var size: Int64
    public init(path: String, size: Int64) {
        self.path = path
        self.size = size
    }
}

/// Read access to an artifact produced upstream.
public protocol ArtifactReading: Sendable {
    /// The artifact's content id.
    var id: String { get }
    /// Its files, sorted by path.
    var files: [ArtifactFile] { get }
    /// Streams a file's bytes in chunks; the engine verifies them against their hash as they pass.
    func readChunks(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws
    /// Writes the artifact's files under `folder` and returns it.
    func materialize(into folder: URL) throws -> URL
}

extension ArtifactReading {
    /// A whole file's bytes.
    public func read(_ path: String) throws -> Data {
        var data = Data()
        try readChunks(path) { data.append(contentsOf: $0) }
        return data
    }
}
