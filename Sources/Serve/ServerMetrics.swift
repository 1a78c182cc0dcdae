import Foundation
import Synchronization

/// The server's counters and latency histograms, rendered in Prometheus' text format by
/// `GET /metrics` together with the engine's gauges (queue depth, active slots).
public final class ServerMetrics: Sendable {
    private struct State {
        var requests: [RequestKey: Int] = [:]
        var promptTokens = 0
        var generatedTokens = 0
        var reloads = 0
        var retiring = 0
        var firstToken = Histogram(bounds: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30])
        var tokenLatency = Histogram(bounds: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5])
    }

    private struct RequestKey: Hashable, Comparable {
        var endpoint: String
        var status: Int
        static func < (a: Self, b: Self) -> Bool { (a.endpoint, a.status) < (b.endpoint, b.status) }
    }

    private let state = Mutex(State())

    public init() {}

    func countRequest(endpoint: String, status: Int) { state.withLock { $0.requests[RequestKey(endpoint: endpoint, status: status), default: 0] += 1 } }
    func countPrompt(_ tokens: Int) { state.withLock { $0.promptTokens += tokens } }
    func countGenerated(_ tokens: Int) { state.withLock { $0.generatedTokens += tokens } }
    func observeFirstToken(seconds: Double) { state.withLock { $0.firstToken.observe(seconds) } }
    func observeTokenLatency(seconds: Double) { state.withLock { $0.tokenLatency.observe(seconds) } }

    /// A reload replaced the model; the old one retires once its requests have ended.
    func modelReplaced() {
        state.withLock {
            $0.reloads += 1
            $0.retiring += 1
        }
    }

    func modelRetired() { state.withLock { $0.retiring -= 1 } }

    /// The exposition text; the gauges are read by the caller at scrape time.
    func render(queueDepth: Int, activeSlots: Int, slots: Int) -> String {
        let s = state.withLock { $0 }
        var out = """
        # HELP pipe_requests_total HTTP requests answered, by endpoint and status.
        # TYPE pipe_requests_total counter

        """
        for (key, count) in s.requests.sorted(by: { $0.key < $1.key }) {
            out += "pipe_requests_total{endpoint=\"\(key.endpoint)\",status=\"\(key.status)\"} \(count)\n"
        }
        out += """
        # HELP pipe_prompt_tokens_total Prompt tokens of accepted generation requests.
        # TYPE pipe_prompt_tokens_total counter
        pipe_prompt_tokens_total \(s.promptTokens)
        # HELP pipe_generated_tokens_total Tokens generated.
        # TYPE pipe_generated_tokens_total counter
        pipe_generated_tokens_total \(s.generatedTokens)
        # HELP pipe_queue_depth Sequences waiting for a slot.
        # TYPE pipe_queue_depth gauge
        pipe_queue_depth \(queueDepth)
        # HELP pipe_active_slots Slots holding a sequence.
        # TYPE pipe_active_slots gauge
        pipe_active_slots \(activeSlots)
        # HELP pipe_slots Slots (sequences decoded at once).
        # TYPE pipe_slots gauge
        pipe_slots \(slots)
        # HELP pipe_model_reloads_total Times a newer model replaced the served one.
        # TYPE pipe_model_reloads_total counter
        pipe_model_reloads_total \(s.reloads)
        # HELP pipe_retiring_models Replaced models still finishing requests that began on them.
        # TYPE pipe_retiring_models gauge
        pipe_retiring_models \(s.retiring)

        """
        out += s.firstToken.render("pipe_time_to_first_token_seconds", help: "Seconds from a request's arrival to its first generated token.")
        out += s.tokenLatency.render("pipe_inter_token_latency_seconds", help: "Seconds between consecutive tokens of a sequence.")
        return out
    }
}

/// A Prometheus histogram: counts per upper bound, their sum and count.
struct Histogram {
    let bounds: [Double]
    private(set) var counts: [Int]
    private(set) var sum = 0.0
    private(set) var count = 0

    init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    mutating func observe(_ value: Double) {
        if let bucket = bounds.firstIndex(where: { value <= $0 }) { counts[bucket] += 1 }
        sum += value
        count += 1
    }

    /// `_bucket` lines (cumulative, ending with `+Inf`), `_sum` and `_count`.
    func render(_ name: String, help: String) -> String {
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, n) in zip(bounds, counts) {
            cumulative += n
            out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(count)\n\(name)_sum \(sum)\n\(name)_count \(count)\n"
        return out
    }
}
