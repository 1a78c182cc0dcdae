import BPETokenizer
import Foundation
import PipeKit
import Training
import Transformer

/// `finetune`: adapts a pretrained model to labelled examples (instructions, chats,
/// classification by verbalizer, plain texts). Only the completion's or the assistant's tokens
/// are learned unless `train_on_prompt`; the loss is averaged over the learned tokens of each
/// whole step. New special tokens grow the tokenizer and the embedding; the chat template is
/// declared here and stored with the output tokenizer, so serving and every export render
/// chats as training did.
public struct FinetuneStage: Stage {
    public struct Params: Parameters {
        @Param("optimizer steps; default: epochs over the training examples", range: .positive) var steps: Int? = nil
        @Param("passes over the training examples, when steps is not given", range: .positive) var epochs = 1.0
        @Param("chat examples: the text around each role's message ({content}) and the generation prompt")
        var chat_template: TemplateForm? = nil
        @Param("special tokens to add to the tokenizer (and rows to the embedding), e.g. the template's markers")
        var special_tokens: [String] = []
        @Param("learn the prompt's (the user's, the system's) tokens too") var train_on_prompt = false
        @Param("pack several examples into each row (attention and positions stay within each example)") var packing = false
        @Param("longest example in tokens; default: the model's context", range: .positive) var max_length: Int? = nil
        @Param("an example longer than max_length, or with nothing to learn: fail the run, or drop it and count it")
        var unusable = UnusablePolicy.fail
        @Param("train low-rank adapters instead of every weight; they are merged into the weights at the end")
        var lora: LoRASettings? = nil
        @Param("MPI data-parallel ranks sharing each batch (set resources: {tasks: N} too)", range: .atLeast(1)) var ranks = 1
        @ParamGroup var training: TrainingSettings
        public init() {}
    }

    /// A chat template in the manifest.
    struct TemplateForm: Parameters {
        @Param("a system message, with {content}; none: chats with a system message are refused") var system: String? = nil
        @Param("a user message, with {content}") var user: String
        @Param("an assistant message, with {content}; what follows {content} (an end-of-turn marker) is learned and ends generation")
        var assistant: String
        @Param("what opens the assistant's turn in a prompt; default: the assistant form's text before {content}")
        var generation_prompt: String? = nil

        var template: ChatTemplate {
            ChatTemplate(system: system, user: user, assistant: assistant, generationPrompt: generation_prompt)
        }
    }

    /// LoRA: the rank, the scale and the matrices adapted in every layer.
    struct LoRASettings: Parameters {
        @Param("rank of each adapter", range: .positive) var rank = 8
        @Param("the update is alpha / rank · B·A", range: .positive) var alpha = 16.0
        @Param("matrices adapted in every layer: q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj")
        var targets = ["q_proj", "v_proj"]
    }

    /// What happens to an example that cannot be learned.
    enum UnusablePolicy: String, ParamChoice { case fail, drop }

    public static let name = "finetune"
    public static let version = 1
    public static let summary = "Fine-tune a pretrained model on labelled examples (prompt/completion, chat, classification), learning only the answers."
    public static let inputs = [
        StagePort("examples", .examples, doc: "train and validation splits (prepare-examples)"),
        StagePort("init_from", .model, doc: "the pretrained model"),
        StagePort("tokenizer", .tokenizer, doc: "the pretrained model's tokenizer"),
        StagePort("budget", .budget, optional: true, doc: "refuse a model over max_parameters; stop at max_train_seconds"),
    ]
    public static let outputs = [
        StagePort("model", .model, doc: "config.json (LlamaForCausalLM, or Qwen3ForCausalLM with QK-norm) + model.safetensors, the vocabulary grown by the new special tokens"),
        StagePort("tokenizer", .tokenizer, doc: "tokenizer.json with the new special tokens; tokenizer_config.json with the chat template (Jinja and pipe's form)"),
        StagePort("metrics", .metrics, doc: "metrics.json, curve.csv and curve.json; finetune.* counts of examples"),
        StagePort("state", .checkpoint, doc: "checkpoint.bin: weights and AdamW moments"),
    ]

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems = p.training.problems(ranks: p.ranks)
        if let form = p.chat_template {
            for (name, text) in [("user", form.user), ("assistant", form.assistant)] + (form.system.map { [("system", $0)] } ?? []) {
                if let problem = ChatTemplate.problem(form: text) { problems.append(ParamProblem(["chat_template", name], problem)) }
            }
        }
        if Set(p.special_tokens).count != p.special_tokens.count || p.special_tokens.contains("") {
            problems.append(ParamProblem(["special_tokens"], "must be distinct and non-empty"))
        }
        if let lora = p.lora {
            let unknown = lora.targets.filter { !LoRAAdapters.targetNames.contains($0) }
            if lora.targets.isEmpty || !unknown.isEmpty {
                problems.append(ParamProblem(["lora", "targets"], "name one or more of \(LoRAAdapters.targetNames.joined(separator: ", "))"))
            }
            if p.training.optimizer == .muon {
                problems.append(ParamProblem(["optimizer"], "Muon updates whole matrices; LoRA adapters train with optimizer: adamw"))
            }
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        BLAS.useSingleThread()
        let examplesInput = try context.input("examples"), initial = try context.input("init_from"), tokenizerInput = try context.input("tokenizer")
        let meta = try ExampleSet.meta(examplesInput)
        let pretrained = try ModelFiles.load(from: initial.materialize(into: context.scratch.appendingPathComponent("init")))
        let tokenizerFolder = try tokenizerInput.materialize(into: context.scratch.appendingPathComponent("tokenizer"))
        let base = try Tokenizer(contentsOf: tokenizerFolder)
        guard base.vocabularySize == pretrained.config.vocabSize else {
            throw StageError("the tokenizer has \(base.vocabularySize) tokens, the model's vocabulary \(pretrained.config.vocabSize)")
        }
        let tokenizer = try base.addingSpecialTokens(p.special_tokens)
        let model = tokenizer.vocabularySize > base.vocabularySize ? pretrained.growingVocabulary(to: tokenizer.vocabularySize) : pretrained
        if tokenizer.vocabularySize > base.vocabularySize {
            context.log("added \(tokenizer.vocabularySize - base.vocabularySize) special token(s); the embedding grows to \(tokenizer.vocabularySize) rows, the new ones the mean of the others")
        }
        // A template declared here wins; otherwise the tokenizer's own (a model fine-tuned before).
        if p.lora != nil, tokenizer.vocabularySize > base.vocabularySize {
            throw StageError("lora: the embedding stays frozen, so the \(tokenizer.vocabularySize - base.vocabularySize) new special token(s) would keep the same mean row and could not be told apart; add them in a full fine-tune first, or fine-tune without lora")
        }
        let template = try p.chat_template?.template ?? ChatTemplate.lookup(tokenizer: tokenizerFolder)
        if meta.form == "chat", template == nil {
            throw StageError("examples: chat examples need with.chat_template (the tokenizer has none)")
        }

        let rendering = TokenizedExample.Rendering(tokenizer: tokenizer, template: template,
                                                   endOfText: model.config.eosTokenId.map(Int32.init), trainOnPrompt: p.train_on_prompt)
        let maxLength = min(p.max_length ?? model.config.context, model.config.context)
        var counts: [String: Double] = [:]
        func prepare(_ split: String) throws -> [TokenizedExample] {
            var kept: [TokenizedExample] = [], tooLong = 0, empty = 0
            for (n, example) in try ExampleSet.read(examplesInput, split: split).enumerated() {
                let tokenized = try rendering.tokenize(example)
                let problem = tokenized.positions > maxLength ? "has \(tokenized.positions + 1) tokens, over max_length \(maxLength) + 1"
                    : tokenized.targets == 0 ? "has no token to learn (no completion or assistant message)" : nil
                guard let problem else { kept.append(tokenized); continue }
                if p.unusable == .fail { throw StageError("examples/\(split).jsonl:\(n + 1): the example \(problem); fix it, or set unusable: drop") }
                if tokenized.targets == 0 { empty += 1 } else { tooLong += 1 }
            }
            counts["finetune.\(split).examples"] = Double(kept.count)
            counts["finetune.\(split).dropped_too_long"] = Double(tooLong)
            counts["finetune.\(split).dropped_empty"] = Double(empty)
            if tooLong + empty > 0 { context.warn("\(split): dropped \(tooLong) example(s) over max_length and \(empty) with nothing to learn") }
            return kept
        }
        let train = try prepare("train"), validation = try prepare("validation")
        guard !train.isEmpty else { throw StageError("examples: no usable training examples") }

        let longest = (train + validation).map(\.positions).max() ?? 1
        let data = ExampleBatches(train: train, validation: validation, sequenceLength: p.packing ? maxLength : longest,
                                  packing: p.packing, seed: p.training.seed, padding: model.config.eosTokenId.map(Int32.init) ?? 0)
        let rowsPerStep = p.training.batch * p.training.grad_accum
        let steps = p.steps ?? max(1, Int((p.epochs * Double(data.rowsPerEpoch) / Double(rowsPerStep)).rounded(.up)))
        context.log("\(meta.form) examples: \(train.count) train, \(validation.count) validation; rows of \(data.sequenceLength) tokens, \(data.rowsPerEpoch) per epoch\(p.packing ? " (packed)" : ""); \(steps) steps")
        let maxSeconds = try TrainingBudget.read(context.optionalInput("budget"))?
            .check(model.config, steps: steps, tokensPerStep: rowsPerStep * data.sequenceLength)

        let trainer = Trainer(model: model, settings: p.training, steps: steps, data: data, context: context, maxSeconds: maxSeconds,
                              fingerprint: "finetune \(examplesInput.id) \(initial.id) \(tokenizerInput.id) \(p.special_tokens) \(template?.json.canonicalJSON ?? "-") prompt=\(p.train_on_prompt) packing=\(p.packing) length=\(maxLength) \(p.unusable)")
        try trainer.joinWorld(ranks: p.ranks)
        if let lora = p.lora {
            trainer.adapters = LoRAAdapters(model: model, rank: lora.rank, alpha: lora.alpha, targets: lora.targets,
                                            seed: UInt64(p.training.seed))
        }
        let summary = try trainer.run()
        try trainer.writeOutputs(summary, model: try context.output("model"), metrics: try context.output("metrics"),
                                 state: try context.output("state"), extra: counts)
        try Self.writeTokenizer(tokenizer, template: template, from: tokenizerFolder, to: try context.output("tokenizer"))
    }

    /// tokenizer.json with the added special tokens, and the input's tokenizer_config.json with
    /// the chat template in both forms (Jinja `chat_template`, pipe's `pipe_chat_template`).
    static func writeTokenizer(_ tokenizer: Tokenizer, template: ChatTemplate?, from input: URL, to out: URL) throws {
        try tokenizer.write(to: out.appendingPathComponent("tokenizer.json"))
        let file = input.appendingPathComponent("tokenizer_config.json")
        var config: [String: JSONValue] = [:]
        if FileManager.default.fileExists(atPath: file.path) {
            guard case .object(let object) = try JSONValue.parse(Data(contentsOf: file)) else {
                throw StageError("tokenizer: tokenizer_config.json is not a JSON object")
            }
            config = object
        }
        if let template {
            config["chat_template"] = .string(template.jinja)
            config[ChatTemplate.configKey] = template.json
        }
        try JSONValue.object(config).write(to: out.appendingPathComponent("tokenizer_config.json"))
    }
}
