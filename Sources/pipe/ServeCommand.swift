import ArgumentParser
import BPETokenizer
import Foundation
import Inference
import Serve

/// `pipe serve`: the model behind OpenAI's HTTP API (completions, chat, models, tokenize,
/// health, metrics) on the inference engine; docs/serving.md tells how to run and call it.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve a model over OpenAI's HTTP API: a model folder, a .gguf file, or a stage's model with --manifest.",
        discussion: """
        pipe serve out/model --port 8080
        pipe serve train --manifest pipelines/quickstart.yaml --slots 8 --api-key-file keys.txt --log requests.jsonl
        pipe serve out/gguf-q4_0/model.gguf -t out/model-hf --host 0.0.0.0
        pipe serve --alias current --registry models
        """)

    @Argument(help: "A model folder (config.json + weights), a .gguf file, or with --manifest the stage whose model to serve.")
    var model: String?

    @Option(help: "Serve the model an alias names (<registry>/<alias>.json, written by the promote stage) and follow it: a promotion or rollback is swapped in without dropping requests.")
    var alias: String?

    @Option(help: "The alias registry folder.")
    var registry = "models"

    @Option(name: .shortAndLong, help: "Resolve MODEL (and the tokenizer) as stages of this manifest's last run.")
    var manifest: String?

    @Option(name: .shortAndLong, help: "A tokenizer.json or folder; with --manifest, a stage name. Default: the model folder's, or the manifest's tokenizer stage.")
    var tokenizer: String?

    @Option(help: "The name clients give as `model` (default: MODEL).")
    var modelName: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on (0: any free port; the one bound is printed).")
    var port = 8080

    @Option(help: "Sequences decoded at once.")
    var slots = 4

    @Option(help: "Threads (default: every core).")
    var threads: Int?

    @Option(help: "An accepted API key (repeatable); with none (and no --api-key-file or PIPE_API_KEY), every request is accepted.")
    var apiKey: [String] = []

    @Option(help: "A file of accepted API keys, one a line.")
    var apiKeyFile: String?

    @Option(help: "Append one JSON line per generation request to this file.")
    var log: String?

    @Flag(help: "Also log each request's prompt and completion text.")
    var logText = false

    @Option(help: "Turn on POST /v1/feedback (a pipe extension): append each rating or correction, with the answer's prompt and completion, to this JSONL file.")
    var feedback: String?

    @Option(help: "Answers remembered for feedback (the most recent).")
    var feedbackWindow = 10_000

    @Option(help: "Seconds SIGTERM lets running requests finish before cancelling them.")
    var drainTimeout = 30.0

    @Option(help: "Sequences waiting for a slot at most; past it requests get 503 with Retry-After.")
    var maxQueue = 64

    @Option(help: "The largest request body in bytes (a larger one gets 413).")
    var maxBodyBytes = 4 << 20

    @Option(help: "Seconds a request's body may take to arrive after its head (past it: 408 and the connection is closed).")
    var requestTimeout = 30.0

    @Option(help: "Seconds before an idle connection is closed (also bounds a request head sent slowly).")
    var idleTimeout = 60.0

    @Option(help: "With --manifest or --alias: seconds between checks of the stage's last run or the alias; a new model is loaded and swapped in without dropping requests (0: never).")
    var reloadInterval = 5.0

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0...65535") }
        guard slots >= 1 else { throw ValidationError("--slots must be at least 1") }
        guard threads.map({ $0 >= 1 }) ?? true else { throw ValidationError("--threads must be at least 1") }
        guard drainTimeout >= 0, drainTimeout <= 86_400 else { throw ValidationError("--drain-timeout must be in 0...86400 seconds") }
        guard maxQueue >= 0 else { throw ValidationError("--max-queue must not be negative") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard requestTimeout > 0, requestTimeout <= 86_400 else { throw ValidationError("--request-timeout must be in (0, 86400] seconds") }
        guard idleTimeout > 0, idleTimeout <= 86_400 else { throw ValidationError("--idle-timeout must be in (0, 86400] seconds") }
        guard reloadInterval >= 0, reloadInterval <= 86_400 else { throw ValidationError("--reload-interval must be in 0...86400 seconds") }
    }

    func run() async throws {
        let scratch = ScratchFolder("serve")
        defer { scratch.remove() }
        var settings = ServerSettings()
        settings.host = host
        settings.port = port
        settings.apiKeys = try keys()
        settings.drainTimeout = drainTimeout
        settings.maxQueue = maxQueue
        settings.maxBodyBytes = maxBodyBytes
        settings.requestTimeout = requestTimeout
        settings.idleTimeout = idleTimeout
        if let log {
            do {
                settings.requestLog = try RequestLog(url: URL(fileURLWithPath: log), includesText: logText)
            } catch {
                throw UsageError("--log \(log): \(error.localizedDescription)")
            }
        }
        if let feedback {
            do {
                settings.feedback = try FeedbackLog(url: URL(fileURLWithPath: feedback), window: feedbackWindow)
            } catch {
                throw UsageError("--feedback \(feedback): \(error.localizedDescription)")
            }
        }
        guard (model == nil) != (alias == nil) else { throw UsageError("name a MODEL or an --alias, not both") }
        let name = modelName ?? model ?? alias ?? "model", slots = slots, threads = threads ?? ProcessInfo.processInfo.activeProcessorCount
        let open: @Sendable (ResolvedModel, _ onRetire: @escaping @Sendable () -> Void) throws -> ServedModel = { resolved, onRetire in
            let template: ChatTemplate?
            do {
                template = try ChatTemplate.lookup(tokenizer: resolved.tokenizer)
            } catch {
                throw UsageError("chat template of \(resolved.tokenizer.path): \(error)")
            }
            let (weights, tokenizer) = try resolved.load()
            let engine = InferenceEngine(weights: weights, slots: slots, threads: threads)
            return ServedModel(name: name, engine: engine, tokenizer: tokenizer, chatTemplate: template, onRetire: onRetire)
        }
        let supply: ModelSupply
        if let alias {
            let followed = AliasModel(alias: alias, registry: URL(fileURLWithPath: registry))
            let entry = try followed.current()  // an alias never promoted is a usage error before listening
            supply = reloadInterval > 0 ? followed.supply(open: open).supply(interval: reloadInterval)
                : ModelSupply { try open(followed.resolved(entry)) {} }
        } else if let model, let manifest, reloadInterval > 0 {
            let stage = try StageModel(stage: model, manifest: manifest, tokenizer: tokenizer)
            _ = try stage.latest()  // a stage that never ran is a usage error before listening
            supply = stage.supply(scratch: scratch, open: open).supply(interval: reloadInterval)
        } else {
            let resolved = try ModelSource(model: model ?? "", manifest: manifest, tokenizer: tokenizer).resolve(scratch: scratch.url)
            supply = ModelSupply { try open(resolved) {} }
        }
        try await Server(settings: settings).run(supply)
    }

    /// `--api-key`s, the lines of `--api-key-file` and `PIPE_API_KEY`.
    private func keys() throws -> Set<String> {
        var keys = Set(apiKey)
        if let apiKeyFile {
            let text: String
            do {
                text = try String(contentsOfFile: apiKeyFile, encoding: .utf8)
            } catch {
                throw UsageError("--api-key-file \(apiKeyFile): \(error.localizedDescription)")
            }
            keys.formUnion(text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        }
        if let key = ProcessInfo.processInfo.environment["PIPE_API_KEY"], !key.isEmpty { keys.insert(key) }
        return keys
    }
}
