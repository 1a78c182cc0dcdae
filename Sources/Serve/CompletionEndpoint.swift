import Foundation
import Hummingbird
import Inference

/// `POST /v1/completions`: every prompt × `n` choices as sequences of one job.
struct CompletionEndpoint {
    let state: ServerState

    func respond(_ request: Request, context: ServeContext) async throws -> Response {
        let model = try state.readyModel()
        let parsed = try CompletionRequest(RequestFields(body: try await state.body(of: request)))
        try state.check(modelName: parsed.model, model)
        let options = parsed.options
        var prompts: [CompletionFormat.Prompt] = []
        for prompt in parsed.prompts {
            switch prompt {
            case .text(let text):
                let ids = model.encode(text)
                // An empty prompt starts from end-of-text, as `pipe generate` does.
                prompts.append(.init(text: text, ids: ids.isEmpty ? model.endOfText.map { [$0] } ?? [] : ids))
            case .tokens(let ids):
                prompts.append(.init(text: try model.text(ids), ids: ids))
            }
        }
        let maxTokens = options.maxTokens ?? 16
        let choicePrompts = prompts.flatMap { Array(repeating: $0, count: options.n) }
        let sequences = choicePrompts.enumerated().map { index, prompt in
            GenerationJob.Sequence(
                request: GenerationRequest(prompt: prompt.ids, maxTokens: maxTokens,
                                           sampling: options.sampling(choice: index, topLogprobs: parsed.logprobs ?? 0),
                                           stopTokens: model.endOfText.map { [$0] } ?? [],
                                           scorePrompt: parsed.echo && parsed.logprobs != nil),
                stops: options.stops)
        }
        let job = try GenerationJob(sequences, model: model, maxQueue: state.settings.maxQueue, metrics: state.metrics,
                                    channel: context.channel, started: context.arrived)
        let promptTokens = prompts.reduce(0) { $0 + $1.ids.count }
        state.metrics.countPrompt(promptTokens)
        let format = CompletionFormat(header: ResponseHeader(prefix: "cmpl-", model: model.name), model: model, prompts: choicePrompts,
                                      echo: parsed.echo, logprobs: parsed.logprobs != nil)
        return await GenerationResponder(job: job, format: format, choices: sequences.count, promptTokens: promptTokens, options: options,
                                         endpoint: "/v1/completions", promptText: prompts[0].text, state: state, model: model,
                                         context: context).respond()
    }
}
