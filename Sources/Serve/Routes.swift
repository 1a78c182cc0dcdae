import Foundation
import Hummingbird
import PipeKit

/// Every route of the server in one place, behind the middleware: request ids outermost (so
/// every answer carries one), then metrics, the error shape, and the API-key check.
enum Routes {
    static func router(_ state: ServerState) -> Router<ServeContext> {
        let router = Router(context: ServeContext.self)
        router.add(middleware: RequestIDMiddleware())
        router.add(middleware: MetricsMiddleware(metrics: state.metrics))
        router.add(middleware: ErrorMiddleware())
        router.add(middleware: AuthMiddleware(keys: state.settings.apiKeys))

        let completions = CompletionEndpoint(state: state), chat = ChatEndpoint(state: state), tokens = TokenizeEndpoints(state: state)
        router.post("/v1/completions", use: completions.respond)
        router.post("/v1/chat/completions", use: chat.respond)
        router.get("/v1/models") { _, _ in try models(state) }
        router.post("/tokenize", use: tokens.tokenize)
        router.post("/detokenize", use: tokens.detokenize)
        router.get("/health") { _, _ in health(state) }
        router.get("/metrics") { _, _ in metrics(state) }
        router.post("/v1/feedback") { request, _ in
            guard let feedback = state.settings.feedback else {
                throw APIError(.notFound, "feedback is off; start pipe serve with --feedback FILE", type: "invalid_request_error",
                               code: "not_found")
            }
            return try feedback.record(RequestFields(body: try await state.body(of: request)))
        }
        return router
    }

    /// The served model, in OpenAI's list shape.
    private static func models(_ state: ServerState) throws -> Response {
        let model = try state.readyModel()
        return TokenizeEndpoints.json(.object(["object": .string("list"), "data": .array([.object([
            "id": .string(model.name), "object": .string("model"), "created": .int(Int64(model.created)),
            "owned_by": .string("pipe"), "max_model_len": .int(Int64(model.context)),
        ])])]))
    }

    /// 200 once the model is loaded, 503 before.
    private static func health(_ state: ServerState) -> Response {
        state.model == nil
            ? TokenizeEndpoints.json(.object(["status": .string("loading")]), status: .serviceUnavailable)
            : TokenizeEndpoints.json(.object(["status": .string("ok")]))
    }

    private static func metrics(_ state: ServerState) -> Response {
        let engine = state.model?.engine
        let text = state.metrics.render(queueDepth: engine?.queuedCount ?? 0, activeSlots: engine?.activeCount ?? 0, slots: engine?.slotCount ?? 0)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
