import Foundation
import PipeKit

/// `--log FILE`: one JSON object per generation request, appended and flushed line by line, so
/// later stages can read it as a dataset (`time, id, endpoint, model, prompt_tokens,
/// completion_tokens, finish_reason, latency_ms, ttft_ms, mean_logprob`; with `--log-text` also
/// `prompt` and `completion`).
public final class RequestLog: Sendable {
    /// One request's line.
    struct Entry {
        var id: String
        var endpoint: String
        var model: String
        var promptTokens: Int
        var completionTokens: Int
        var finishReason: String
        var latency: Double
        var timeToFirstToken: Double?
        var meanLogprob: Double?
        var prompt: String
        var completion: String
    }

    private let file: JSONLAppender
    private let includesText: Bool

    /// Opens `url` for appending (creating it).
    public init(url: URL, includesText: Bool) throws {
        file = try JSONLAppender(url: url)
        self.includesText = includesText
    }

    func write(_ entry: Entry) throws {
        var object: [String: JSONValue] = [
            "time": .string(Date().formatted(.iso8601)), "id": .string(entry.id), "endpoint": .string(entry.endpoint),
            "model": .string(entry.model), "prompt_tokens": .int(Int64(entry.promptTokens)),
            "completion_tokens": .int(Int64(entry.completionTokens)), "finish_reason": .string(entry.finishReason),
            "latency_ms": .double(entry.latency * 1000),
            "ttft_ms": entry.timeToFirstToken.map { .double($0 * 1000) } ?? .null,
            "mean_logprob": entry.meanLogprob.map(JSONValue.double) ?? .null,
        ]
        if includesText {
            object["prompt"] = .string(entry.prompt)
            object["completion"] = .string(entry.completion)
        }
        try file.append(object)
    }
}
