import Foundation
import PipeKit
import TokenScoring

/// The two most recent windows of `pipe serve`'s request log (`--log FILE`): the last `window`
/// requests (current) and the `window` before them (earlier). The log is read once, line by
/// line, keeping at most a few windows of small records, so its length costs time, not memory.
struct ServedRequests {
    /// What the monitor uses of one logged request.
    struct Request: Equatable {
        var completionTokens: Int
        var finishReason: String
        var latencyMs: Double
        var ttftMs: Double?
        /// The mean log-probability of the generated tokens; nil when none were generated.
        var meanLogprob: Double?
    }

    var earlier: [Request]
    var current: [Request]
    /// Requests in the whole log.
    var logged: Int

    /// Reads `url`; a line that is not a request (bad JSON, a field of the wrong type, a number
    /// out of range) is an error naming the file and line, except a last line without its
    /// newline, which a crash can leave half-written and which is passed over.
    static func read(_ url: URL, window: Int, maxLineBytes: Int) throws -> ServedRequests {
        var kept: [Request] = []
        var logged = 0
        var unreadable: StageError?
        try LineReader.forEachLine(of: url, maxLineBytes: maxLineBytes) { line, number in
            if let unreadable { throw unreadable }
            guard !line.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) else { return }
            do {
                kept.append(try parse(line))
            } catch {
                unreadable = StageError("\(url.lastPathComponent):\(number): not a request log line: \(error)")
                return
            }
            logged += 1
            if kept.count >= 4 * window { kept.removeFirst(kept.count - 2 * window) }
        }
        if let unreadable, try endsWithNewline(url) { throw unreadable }
        let current = Array(kept.suffix(window))
        let earlier = Array(kept.dropLast(current.count).suffix(window))
        return ServedRequests(earlier: earlier, current: current, logged: logged)
    }

    /// The log line's fields, each checked.
    private struct Line: Decodable {
        var completion_tokens: Int
        var finish_reason: String
        var latency_ms: Double
        var ttft_ms: Double?
        var mean_logprob: Double?
    }

    private static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws -> Request {
        let line = try JSONDecoder().decode(Line.self, from: Data(buffer: bytes))
        guard line.completion_tokens >= 0 else { throw StageError("completion_tokens is negative") }
        guard line.latency_ms.isFinite, line.latency_ms >= 0 else { throw StageError("latency_ms must be a non-negative number") }
        if let t = line.ttft_ms, !(t.isFinite && t >= 0) { throw StageError("ttft_ms must be a non-negative number") }
        if let m = line.mean_logprob, !(m.isFinite && m <= 0) { throw StageError("mean_logprob must be a number at most 0") }
        return Request(completionTokens: line.completion_tokens, finishReason: line.finish_reason, latencyMs: line.latency_ms,
                       ttftMs: line.ttft_ms, meanLogprob: line.mean_logprob)
    }

    private static func endsWithNewline(_ url: URL) throws -> Bool {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        let size = try handle.seekToEnd()
        guard size > 0 else { return true }
        try handle.seek(toOffset: size - 1)
        return try handle.read(upToCount: 1) == Data([0x0A])
    }
}

/// What the monitor measures of one window of served requests.
struct RequestWindow {
    var requests: Int
    /// Each request's summed log-probability (amount) over its generated tokens (weight), for
    /// the token-weighted mean and its bootstrap.
    var logprobs: [RatioDelta.Part]
    /// The share of requests that stopped at their token limit (`finish_reason: length`).
    var lengthStops: Double
    /// Requests per finish reason.
    var finishReasons: [String: Int]
    /// Latencies and times to the first token in milliseconds, sorted.
    var latencies: [Double]
    var timesToFirstToken: [Double]

    init(_ requests: [ServedRequests.Request]) {
        self.requests = requests.count
        logprobs = requests.compactMap { r in
            r.meanLogprob.flatMap { r.completionTokens > 0 ? RatioDelta.Part(amount: $0 * Double(r.completionTokens), weight: Double(r.completionTokens)) : nil }
        }
        finishReasons = requests.reduce(into: [:]) { $0[$1.finishReason, default: 0] += 1 }
        lengthStops = requests.isEmpty ? 0 : Double(finishReasons["length", default: 0]) / Double(requests.count)
        latencies = requests.map(\.latencyMs).sorted()
        timesToFirstToken = requests.compactMap(\.ttftMs).sorted()
    }

    /// The mean log-probability of every generated token in the window.
    var meanLogprob: Double? { RatioDelta.ratio(logprobs, scale: 1) }
}
