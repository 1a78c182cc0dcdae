import Foundation
import Hummingbird
import PipeKit
import Synchronization

/// `--feedback FILE`: what users say about answers, as JSONL a fine-tuning stage can read. The
/// server remembers its last `window` answers (prompt and completions, by response id and by
/// request id) so that a feedback line carries the texts it is about:
/// `{time, id, request_id, endpoint, model, choice, prompt, completion, rating, correction}`.
/// `prepare-examples` with `fields: {completion: correction}` trains on the corrections.
public final class FeedbackLog: Sendable {
    /// One answered request, as feedback needs it.
    struct Exchange: Sendable {
        var responseID: String
        var requestID: String
        var endpoint: String
        var model: String
        var prompt: String
        var completions: [String]
    }

    private let file: JSONLAppender
    private let window: Int
    /// Answers by response id and by request id, and the order they came in (oldest first).
    private let recent = Mutex<(byID: [String: Exchange], order: [String])>(([:], []))

    public init(url: URL, window: Int) throws {
        file = try JSONLAppender(url: url)
        self.window = max(1, window)
    }

    /// Keeps an answer for later feedback, forgetting the oldest past `window`.
    func remember(_ exchange: Exchange) {
        recent.withLock { recent in
            recent.byID[exchange.responseID] = exchange
            recent.byID[exchange.requestID] = exchange
            recent.order.append(exchange.responseID)
            guard recent.order.count > window else { return }
            let oldest = recent.order.removeFirst()
            if let gone = recent.byID.removeValue(forKey: oldest) { recent.byID[gone.requestID] = nil }
        }
    }

    /// `POST /v1/feedback {id, rating?, correction?, choice?}`: appends a line about a recent
    /// answer; 404 for an id the server does not remember.
    func record(_ fields: RequestFields) throws -> Response {
        guard let id = try fields.string("id") else { throw APIError.invalid("id is required: a response's id or its X-Request-Id", param: "id") }
        let rating = try fields.double("rating", in: -1e6...1e6)
        let correction = try fields.string("correction")
        guard rating != nil || correction != nil else { throw APIError.invalid("give a rating, a correction or both", param: "rating") }
        guard let exchange = recent.withLock({ $0.byID[id] }) else {
            throw APIError(.notFound, "no recent answer has the id '\(id)' (the server remembers its last \(window))",
                           type: "invalid_request_error", param: "id", code: "unknown_id")
        }
        let choice = try fields.int("choice", in: 0...(exchange.completions.count - 1)) ?? 0
        try file.append([
            "time": .string(Date().formatted(.iso8601)), "id": .string(exchange.responseID), "request_id": .string(exchange.requestID),
            "endpoint": .string(exchange.endpoint), "model": .string(exchange.model), "choice": .int(Int64(choice)),
            "prompt": .string(exchange.prompt), "completion": .string(exchange.completions[choice]),
            "rating": rating.map(JSONValue.double) ?? .null, "correction": correction.map(JSONValue.string) ?? .null,
        ])
        return TokenizeEndpoints.json(.object(["status": .string("recorded"), "id": .string(exchange.responseID)]))
    }
}
