import BPETokenizer
import Foundation
import Hummingbird
import Inference

/// `POST /v1/chat/completions`: the messages rendered by the model's chat template into one
/// prompt, `n` choices of it. A model without a template gets a 400 saying so.
struct ChatEndpoint {
    let state: ServerState

    func respond(_ request: Request, context: ServeContext) async throws -> Response {
        let model = try state.readyModel()
        let parsed = try ChatRequest(RequestFields(body: try await state.body(of: request)))
        try state.check(modelName: parsed.model, model)
        guard let template = model.chatTemplate else {
            throw APIError.invalid("the model '\(model.name)' has no chat template (its tokenizer's tokenizer_config.json has no \(ChatTemplate.configKey)); use /v1/completions with a prompt",
                                   param: "messages", code: "chat_template_missing")
        }
        var options = parsed.options
        if let stop = template.stopText, !options.stops.contains(stop) { options.stops.append(stop) }
        let segments: [ChatTemplate.Segment]
        do {
            segments = try template.segments(parsed.messages, addGenerationPrompt: true)
        } catch let error as ChatTemplateError {
            throw APIError.invalid(error.description, param: "messages")
        }
        // Segment by segment, as fine-tuning tokenized the conversations it trained on.
        let prompt = segments.map(\.text).joined()
        let ids = segments.flatMap { model.encode($0.text) }
        let maxTokens = options.maxTokens ?? max(0, model.context - ids.count)
        let sequences = (0..<options.n).map { index in
            GenerationJob.Sequence(
                request: GenerationRequest(prompt: ids, maxTokens: maxTokens,
                                           sampling: options.sampling(choice: index, topLogprobs: parsed.logprobs ? parsed.topLogprobs : 0),
                                           stopTokens: model.endOfText.map { [$0] } ?? []),
                stops: options.stops)
        }
        let job = try GenerationJob(sequences, model: model, maxQueue: state.settings.maxQueue, metrics: state.metrics,
                                    channel: context.channel, started: context.arrived)
        state.metrics.countPrompt(ids.count)
        let format = ChatFormat(header: ResponseHeader(prefix: "chatcmpl-", model: model.name), model: model, choices: options.n,
                                logprobs: parsed.logprobs)
        return await GenerationResponder(job: job, format: format, choices: options.n, promptTokens: ids.count, options: options,
                                         endpoint: "/v1/chat/completions", promptText: prompt, state: state, model: model,
                                         context: context).respond()
    }
}
