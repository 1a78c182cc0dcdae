import Foundation
import HTTPTypes
import Hummingbird
import PipeKit

/// How an endpoint words a generation: the chunks of a stream and the whole response.
protocol GenerationFormat: Sendable {
    /// The response's id, creation time and model.
    var header: ResponseHeader { get }
    /// Chunks sent before any update (chat's role deltas, an echo without scores).
    mutating func opening() -> [JSONValue]
    mutating func chunks(for update: GenerationJob.Update) -> [JSONValue]
    func response(_ results: [ChoiceResult], usage: JSONValue) -> JSONValue
    func usageChunk(_ usage: JSONValue) -> JSONValue
}

/// Answers a submitted job, as one JSON response or as server-sent events (`data: {...}`
/// chunks, the usage chunk when asked, `data: [DONE]`), and logs the request when it ends.
struct GenerationResponder<Format: GenerationFormat> {
    let job: GenerationJob
    var format: Format
    let choices: Int
    let promptTokens: Int
    let options: GenerationOptions
    /// For the request log.
    let endpoint: String
    let promptText: String
    let state: ServerState
    let model: ServedModel
    let context: ServeContext

    static var eventStreamHeaders: HTTPFields {
        [.contentType: "text/event-stream", .cacheControl: "no-cache", HTTPField.Name("X-Accel-Buffering")!: "no"]
    }

    func respond() async -> Response {
        guard options.stream else {
            defer { job.cancel() }
            var results = Array(repeating: ChoiceResult(), count: choices)
            for await update in job.updates { ChoiceResult.apply(update, to: &results) }
            log(results)
            let body = format.response(results, usage: usage).canonicalJSON
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        }
        let run = self
        return Response(status: .ok, headers: Self.eventStreamHeaders, body: ResponseBody { writer in
            var format = run.format
            var results = Array(repeating: ChoiceResult(), count: run.choices)
            defer {
                run.job.cancel()
                run.log(results)
            }
            for chunk in format.opening() { try await writer.write(Self.event(chunk.canonicalJSON)) }
            for await update in run.job.updates {
                ChoiceResult.apply(update, to: &results)
                for chunk in format.chunks(for: update) { try await writer.write(Self.event(chunk.canonicalJSON)) }
            }
            if run.options.includeUsage { try await writer.write(Self.event(format.usageChunk(run.usage).canonicalJSON)) }
            try await writer.write(Self.event("[DONE]"))
            try await writer.finish(nil)
        })
    }

    private static func event(_ data: String) -> ByteBuffer { ByteBuffer(string: "data: \(data)\n\n") }

    private var usage: JSONValue {
        let generated = job.generatedTokens
        return .object(["prompt_tokens": .int(Int64(promptTokens)), "completion_tokens": .int(Int64(generated)),
                        "total_tokens": .int(Int64(promptTokens + generated))])
    }

    private func log(_ results: [ChoiceResult]) {
        let logprobs = results.flatMap { $0.tokens.map(\.logprob) }
        state.log(RequestLog.Entry(
            id: context.requestID, endpoint: endpoint, model: model.name, promptTokens: promptTokens,
            completionTokens: job.generatedTokens, finishReason: results.first?.finishReason ?? "length",
            latency: Date().timeIntervalSince(context.arrived), timeToFirstToken: job.timeToFirstToken,
            meanLogprob: logprobs.isEmpty ? nil : logprobs.reduce(0, +) / Double(logprobs.count),
            prompt: promptText, completion: results.first?.text ?? ""), context: context)
        state.settings.feedback?.remember(FeedbackLog.Exchange(
            responseID: format.header.id, requestID: context.requestID, endpoint: endpoint, model: model.name,
            prompt: promptText, completions: results.map(\.text)))
    }
}

/// The fields every response and chunk starts with.
struct ResponseHeader: Sendable {
    let id: String
    let created = Int64(Date().timeIntervalSince1970)
    let model: String

    init(prefix: String, model: String) {
        id = prefix + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
        self.model = model
    }

    func fields(object: String) -> [String: JSONValue] {
        ["id": .string(id), "object": .string(object), "created": .int(created), "model": .string(model)]
    }
}
