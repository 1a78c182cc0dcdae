import DataParallel
import Foundation
import PipeKit
import Transformer

/// The training loop: batches from a `TrainingData` source, gradient accumulation, AdamW on a
/// schedule, validation, checkpoints, the time budget, and the loss curve. Train, finetune,
/// prune (recovery) and distill run it.
///
/// The loss and its gradient are averaged over the trained-on targets of the whole step (every
/// micro-batch, every rank), so 4 accumulation steps of 1 example make the same update as 1
/// step of 4, however many of each example's tokens are masked.
public final class Trainer {
    /// How a run ended.
    public struct Summary {
        public var steps: Int
        public var trainLoss: Double
        public var valLoss: Double?
        /// Targets the loss was taken over (masked ones excluded), summed over steps.
        public var trainedTokens: Int
        public var seconds: Double
        public var tokensPerSecond: Double
        public var stoppedByBudget: Bool
        public var history: [CurvePoint]
    }

    /// A teacher model and how strongly to follow it.
    public struct Distillation {
        public var model: TransformerModel
        public var temperature: Double
        public var alpha: Double
        public init(model: TransformerModel, temperature: Double, alpha: Double) {
            self.model = model
            self.temperature = temperature
            self.alpha = alpha
        }
    }

    private let model: TransformerModel
    private let p: TrainingSettings
    private let steps: Int
    private let data: TrainingData
    private let context: StageContext
    private let maxSeconds: Double?
    private var fingerprint: String
    private let workers: Workers
    private let schedule: LearningRateSchedule

    /// Runs after every optimizer step (pruning keeps its zeros with it).
    public var afterStep: ((TransformerModel) -> Void)?
    /// A teacher whose logits the loss also follows (distillation).
    public var teacher: Distillation?
    /// Low-rank adapters: when set, only they are trained, and the model holds the merged
    /// weights throughout (fine-tuning with LoRA).
    public var adapters: LoRAAdapters? {
        didSet { if let adapters { fingerprint += " lora=\(adapters.rank)x\(adapters.scale) \(adapters.count)" } }
    }
    /// Data parallelism: each rank takes its share of every batch's rows and the gradients and
    /// losses are summed over ranks before clipping and AdamW, so every rank takes the same step.
    /// Only rank 0 writes checkpoints.
    public var world: MPIWorld? {
        didSet { if let world, world.size > 1 { fingerprint += " ranks=\(world.size)" } }
    }
    private var ranks: Int { world?.size ?? 1 }

    /// Joins the MPI world the stage runs in (none outside a launcher), which must have the
    /// `ranks` processes the manifest asked for.
    public func joinWorld(ranks expected: Int) throws {
        let world = try MPIWorld.current()
        guard (world?.size ?? 1) == expected else {
            throw StageError("with.ranks is \(expected) but the stage runs as \(world?.size ?? 1) process(es): give it resources: {tasks: \(expected)}")
        }
        self.world = world
        if let world, world.size > 1 { context.log("data parallel: rank \(world.rank) of \(world.size), \(p.batch / world.size) rows of each batch") }
    }
    private var isWriter: Bool { (world?.rank ?? 0) == 0 }

    public init(model: TransformerModel, settings params: TrainingSettings, steps: Int, data: TrainingData,
                context: StageContext, maxSeconds: Double?, fingerprint: String)
    {
        precondition(data.sequenceLength <= model.config.context, "rows longer than the model's context")
        self.model = model
        self.p = params
        self.steps = steps
        self.data = data
        self.context = context
        self.maxSeconds = maxSeconds
        self.workers = Workers(context.threads)
        let c = model.config
        self.fingerprint = "\(fingerprint) \(c) steps=\(steps) batch=\(params.batch)x\(params.grad_accum) seed=\(params.seed)"
        schedule = LearningRateSchedule(peak: params.lr, minimum: params.min_lr ?? params.lr / 10, warmupSteps: params.warmup,
                                        totalSteps: steps, decay: params.schedule, cooldown: params.cooldown)
    }

    /// AdamW over the trainable tensors, or Muon for the model's hidden matrices with AdamW for the rest.
    private func makeOptimizer(count: Int) throws -> any ParameterOptimizer {
        switch p.optimizer {
        case .adamw:
            return AdamW(tensors: adapters?.tensors ?? model.layout.tensors, count: count, settings: p.adamW)
        case .muon:
            guard adapters == nil else { throw StageError("optimizer: muon updates whole matrices; LoRA adapters train with optimizer: adamw") }
            return MuonAdamW(tensors: model.layout.tensors, count: count, adamW: p.adamW, adamWPeak: Float(p.lr),
                             settings: p.muon.settings, workers: workers.count)
        }
    }

    public func run() throws -> Summary {
        let c = model.config, seq = data.sequenceLength
        let trainable = adapters?.values ?? model.parameters
        let optimizer = try makeOptimizer(count: trainable.count)
        let adapterGradients = adapters.map { FloatBuffer(count: $0.count) }
        let acts = Activations(config: c, batch: p.batch / ranks, seq: seq, workers: workers, training: true,
                               checkpointing: p.gradient_checkpointing)
        let globalRows = acts.rows * ranks
        let teaching = teacher.map { Teacher(model: $0.model, batch: p.batch / ranks, seq: seq, workers: workers,
                                             temperature: Float($0.temperature), alpha: Float($0.alpha)) }
        let gradients = FloatBuffer(count: model.layout.count)
        context.log("model: \(c.parameterCount) parameters (\(c.layers) layers, dim \(c.dim), \(c.heads) heads, \(c.kvHeads) kv heads, ffn \(c.ffnDim), vocabulary \(c.vocabSize), context \(seq))")
        context.log("OpenBLAS kernels: \(BLAS.coreName); \(workers.count) worker threads; activations \(acts.bytes / 1_000_000) MB")

        var history: [CurvePoint] = []
        var start = 0, elapsedBefore = 0.0, trainedTokens = 0
        var windowStart = Date(), windowTokens = 0, windowLoss = 0.0, windowSteps = 0
        if let header = try Checkpoint.load(fingerprint: fingerprint, parameters: trainable, optimizer: optimizer, in: context.work) {
            start = header.step
            history = header.history
            elapsedBefore = header.elapsedSeconds
            windowLoss = header.windowLoss
            windowSteps = header.windowSteps
            trainedTokens = header.trainedTokens ?? start * p.batch * p.grad_accum * seq
            // The curve so far, so that the run's reported curve is whole after a resume.
            for point in history { if let v = point.valLoss { context.report("val.loss", step: point.step, value: v) } }
            context.log("resuming from the checkpoint at step \(start)" + (header.workers == workers.count ? "" :
                " (it was written with \(header.workers) threads, this run has \(workers.count): the curve will differ in the last bits)"))
        }

        adapters?.apply(to: model, workers: workers)
        if let adapters { context.log("LoRA: \(adapters.count) adapter parameters (rank \(adapters.rank)); the model's own weights stay frozen") }
        let began = Date()
        var lastVal: Double? = history.last { $0.valLoss != nil }?.valLoss
        var stoppedByBudget = false
        var step = start
        var rates: [Double] = []
        func saveCheckpoint() throws {
            guard isWriter else { return }
            let header = Checkpoint.Header(fingerprint: fingerprint, step: step, workers: workers.count,
                                           elapsedSeconds: elapsedBefore + Date().timeIntervalSince(began), history: history,
                                           windowLoss: windowLoss, windowSteps: windowSteps, trainedTokens: trainedTokens)
            try Checkpoint.save(header, parameters: trainable, optimizer: optimizer, in: context.work)
        }

        while step < steps {
            try context.checkCancellation()
            let lr = schedule.rate(at: step)
            gradients.zero()
            var loss = 0.0
            let targets = data.trainableTokens(step: step, microBatches: p.grad_accum, globalRows: p.batch)
            for micro in 0..<p.grad_accum {
                data.fillTraining(acts, BatchPlace(step: step, micro: micro, microBatches: p.grad_accum, globalRows: p.batch,
                                                   firstRow: (world?.rank ?? 0) * acts.batch))
                loss += model.run(acts, gradients: gradients, gradScale: 1 / Float(max(targets, 1)), teacher: teaching)
            }
            if let world, ranks > 1 {
                try world.sumInPlace(gradients.pointer, count: gradients.count)
                loss = try world.sum(loss)
            }
            loss /= Double(max(targets, 1))
            trainedTokens += targets
            guard loss.isFinite else {
                throw StageError("training diverged at step \(step + 1): the loss is \(loss); lower lr (now \(lr)) or raise warmup")
            }
            let norm: Double
            if let adapters, let adapterGradients {
                adapters.gradients(from: gradients, into: adapterGradients, workers: workers)
                norm = optimizer.update(parameters: trainable, gradients: adapterGradients, lr: Float(lr), workers: workers)
                adapters.apply(to: model, workers: workers)
            } else {
                norm = optimizer.update(parameters: trainable, gradients: gradients, lr: Float(lr), workers: workers)
            }
            afterStep?(model)
            step += 1
            windowTokens += globalRows * p.grad_accum
            windowLoss += loss
            windowSteps += 1

            let evaluate = step % p.eval_every == 0 || step == steps
            let elapsed = elapsedBefore + Date().timeIntervalSince(began)
            let overBudget = maxSeconds.map { elapsed >= $0 } ?? false
            if step % p.log_every == 0 || evaluate || overBudget {
                let rate = Double(windowTokens) / max(Date().timeIntervalSince(windowStart), 1e-9)
                if evaluate || overBudget {
                    lastVal = validationLoss()
                    if let v = lastVal { context.report("val.loss", step: step, value: v) }
                }
                history.append(CurvePoint(step: step, trainLoss: windowLoss / Double(windowSteps), valLoss: evaluate || overBudget ? lastVal : nil,
                                          learningRate: lr, gradientNorm: norm, tokensPerSecond: rate,
                                          seconds: elapsedBefore + Date().timeIntervalSince(began)))
                if history.count > 1 || start > 0 { rates.append(rate) }
                context.progress(Double(step) / Double(steps), String(format: "step %d/%d  loss %.4f%@  lr %.2e  %.0f tok/s", step, steps,
                                                                      windowLoss / Double(windowSteps), lastVal.map { String(format: "  val %.4f", $0) } ?? "", lr, rate))
                if evaluate || overBudget, let v = lastVal { context.log(String(format: "step %d: train loss %.4f, val loss %.4f", step, windowLoss / Double(windowSteps), v)) }
                windowStart = Date()
                windowTokens = 0
                windowLoss = 0
                windowSteps = 0
            }
            if step % p.checkpoint_every == 0 || step == steps || overBudget { try saveCheckpoint() }
            if overBudget, step < steps {
                stoppedByBudget = true
                context.log("stopping at step \(step) of \(steps): max_train_seconds \(maxSeconds!) reached")
                break
            }
        }
        if start == steps {
            try saveCheckpoint()  // an earlier run finished; its checkpoint becomes the state output
        }
        let seconds = elapsedBefore + Date().timeIntervalSince(began)
        let last = history.last
        return Summary(steps: step, trainLoss: last?.trainLoss ?? .nan, valLoss: lastVal, trainedTokens: trainedTokens, seconds: seconds,
                       tokensPerSecond: rates.isEmpty ? (last?.tokensPerSecond ?? 0) : rates.sorted()[rates.count / 2],
                       stoppedByBudget: stoppedByBudget, history: history)
    }

    private lazy var validation: (acts: Activations, rows: Int)? = {
        let available = data.validationRows(maxTokens: p.eval_tokens)
        guard available > 0 else {
            context.log("no validation rows (the validation data is shorter than one row of \(data.sequenceLength) tokens): no validation loss")
            return nil
        }
        let batch = min(p.batch, available)
        return (Activations(config: model.config, batch: batch, seq: data.sequenceLength, workers: workers, training: false),
                available / batch * batch)
    }()

    /// Mean loss per trained-on target over the validation rows (the same ones every time).
    private func validationLoss() -> Double? {
        guard let (acts, rows) = validation else { return nil }
        var total = 0.0, targets = 0
        for first in stride(from: 0, to: rows, by: acts.batch) {
            targets += data.fillValidation(acts, first: first)
            total += model.run(acts)
        }
        return targets > 0 ? total / Double(targets) : nil
    }

    /// The model (safetensors), the metrics and curves, and the last checkpoint as the state.
    /// `extra` metrics (a stage's own) join the training ones in metrics.json.
    public func writeOutputs(_ s: Summary, model folder: URL, metrics: URL, state: URL?, extra: [String: Double] = [:]) throws {
        try ModelFiles.save(model, to: folder, metadata: ["pipe.steps": "\(s.steps)"])
        try writeMetrics(s, extra: extra, to: metrics)
        if let state {
            try FileManager.default.copyItem(at: context.work.appendingPathComponent(Checkpoint.fileName),
                                             to: state.appendingPathComponent(Checkpoint.fileName))
        }
    }

    /// metrics.json (flat, for gates and reports), curve.csv and curve.json.
    private func writeMetrics(_ s: Summary, extra: [String: Double], to folder: URL) throws {
        let c = model.config
        var metrics: [String: Double] = [
            "train.loss": s.trainLoss, "train.steps": Double(s.steps), "train.seconds": s.seconds,
            "train.tokens": Double(s.steps * p.batch * p.grad_accum * data.sequenceLength), "train.trained_tokens": Double(s.trainedTokens),
            "train.tokens_per_second": s.tokensPerSecond, "train.parameters": Double(c.parameterCount),
            "train.stopped_by_budget": s.stoppedByBudget ? 1 : 0, "train.peak_memory_bytes": Double(ProcessMemory.peakResidentBytes),
        ]
        if let v = s.valLoss {
            metrics["val.loss"] = v
            metrics["val.perplexity"] = exp(v)
        }
        metrics.merge(extra) { $1 }
        for (name, value) in metrics.sorted(by: { $0.key < $1.key }) { context.metric(name, value) }
        try JSONValue.object(metrics.mapValues(JSONValue.double)).write(to: folder.appendingPathComponent("metrics.json"))
        var csv = "step,train_loss,val_loss,learning_rate,gradient_norm,tokens_per_second,seconds\n"
        for point in s.history {
            csv += "\(point.step),\(point.trainLoss),\(point.valLoss.map { "\($0)" } ?? ""),\(point.learningRate),\(point.gradientNorm),\(point.tokensPerSecond),\(point.seconds.map { "\($0)" } ?? "")\n"
        }
        try Data(csv.utf8).write(to: folder.appendingPathComponent("curve.csv"))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try encoder.encode(s.history).write(to: folder.appendingPathComponent("curve.json"))
    }
}
