// Training throughput of the transformer kernels, without the pipeline around them.
//
//   swift run -c release train-bench [--layers 4 --heads 4 --dim 256 --context 256 --vocab 8192
//                                     --batch 16 --steps 10 --threads 2 --checkpointing --muon --qk-norm]
//
// Prints one JSON line: tokens/s (median step), MFU against the sgemm peak measured here with the
// same OpenBLAS kernels and thread count, peak RSS, the kernel family OpenBLAS chose, and the
// tokens/s of greedy generation with the KV cache (one sequence, the whole context). `--muon`
// updates the hidden matrices with Muon instead of AdamW; the optimizer's own time per step is
// reported either way. `--qk-norm` gives the model QK-norm.
import CBLAS
import Foundation
import Transformer

/// `--name value` options and `--flag` switches from the command line.
func parseArguments() -> (options: [String: String], flags: Set<String>) {
    var options: [String: String] = [:], flags: Set<String> = []
    var arguments = CommandLine.arguments.dropFirst()
    while let argument = arguments.popFirst() {
        guard argument.hasPrefix("--") else { fatalError("unexpected argument \(argument)") }
        let name = String(argument.dropFirst(2))
        if ["checkpointing", "muon", "qk-norm"].contains(name) { flags.insert(name) } else { options[name] = arguments.popFirst() }
    }
    return (options, flags)
}
OpenBLASCore.restartWithMatchingKernelsIfMisdetected()  // as pipe does
let (options, flags) = parseArguments()
func int(_ name: String, _ fallback: Int) -> Int { options[name].flatMap(Int.init) ?? fallback }

let config = ModelConfig(vocabSize: int("vocab", 8192), dim: int("dim", 256), layers: int("layers", 4), heads: int("heads", 4),
                         kvHeads: options["kv-heads"].flatMap(Int.init), ffnDim: options["ffn-dim"].flatMap(Int.init),
                         context: int("context", 256), qkNorm: flags.contains("qk-norm"))
let batch = int("batch", 16), steps = int("steps", 10), workers = Workers(int("threads", 2))
BLAS.useSingleThread()

/// Peak sgemm GFLOP/s with these kernels: every worker multiplies its own 1024² matrices at once.
func sgemmPeak(_ workers: Workers) -> Double {
    let n = 1024
    let buffers = (0..<workers.count).map { _ in (FloatBuffer(count: n * n), FloatBuffer(count: n * n), FloatBuffer(count: n * n)) }
    for (a, b, _) in buffers { for i in 0..<n * n { a.pointer[i] = Float(i % 7) * 0.1; b.pointer[i] = Float(i % 5) * 0.1 } }
    var best = 0.0
    for _ in 0..<5 {
        let start = Date()
        workers.run { w in
            let (a, b, c) = buffers[w]
            for _ in 0..<4 {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(n), Int32(n), Int32(n), 1, a.pointer, Int32(n),
                            b.pointer, Int32(n), 0, c.pointer, Int32(n))
            }
        }
        best = max(best, Double(workers.count * 4 * 2 * n * n * n) / Date().timeIntervalSince(start) / 1e9)
    }
    return best
}

let model = TransformerModel(config: config)
model.initialize(seed: 1)
let acts = Activations(config: config, batch: batch, seq: config.context, workers: workers, training: true,
                       checkpointing: flags.contains("checkpointing"))
for r in 0..<acts.rows {
    acts.tokens[r] = Int32((r * 7919) % config.vocabSize)
    acts.targets[r] = Int32((r * 104729 + 1) % config.vocabSize)
}
let gradients = FloatBuffer(count: model.layout.count)
let optimizer: any ParameterOptimizer = flags.contains("muon")
    ? MuonAdamW(tensors: model.layout.tensors, count: model.layout.count, adamW: AdamW.Settings(), adamWPeak: 3e-4,
                settings: MuonAdamW.Settings(), workers: workers.count)
    : AdamW(layout: model.layout, settings: AdamW.Settings())
var times: [Double] = [], optimizerTimes: [Double] = []
var losses: [Double] = []
for step in 0..<steps + 2 {
    let start = Date()
    gradients.zero()
    losses.append(model.run(acts, gradients: gradients, gradScale: 1 / Float(acts.rows)) / Double(acts.rows))
    let updating = Date()
    optimizer.update(parameters: model.parameters, gradients: gradients, lr: 3e-4, workers: workers)
    if step >= 2 {
        times.append(Date().timeIntervalSince(start))
        optimizerTimes.append(Date().timeIntervalSince(updating))
    }
}
times.sort()
optimizerTimes.sort()
let median = times[times.count / 2]
let tokensPerSecond = Double(acts.rows) / median
let peak = sgemmPeak(workers)

/// Tokens per second of greedy generation with the KV cache over the whole context.
func generationRate(_ model: TransformerModel) -> Double {
    let generator = Generator(model: model)
    var sampler = Sampler()
    var logits = generator.step(0)
    let start = Date()
    while generator.remaining > 0 { logits = generator.step(sampler.next(logits)) }
    return Double(model.config.context - 1) / Date().timeIntervalSince(start)
}
let generation = (0..<3).map { _ in generationRate(model) }.sorted()[1]
var usage = rusage()
getrusage(RUSAGE_SELF.rawValue, &usage)
let achieved = tokensPerSecond * config.trainingFLOPsPerToken / 1e9
let result: [String: Any] = [
    "tool": "pipe", "threads": workers.count, "kernels": BLAS.coreName, "checkpointing": flags.contains("checkpointing"),
    "optimizer": flags.contains("muon") ? "muon" : "adamw", "optimizer_ms_median": (optimizerTimes[optimizerTimes.count / 2] * 1e4).rounded() / 10,
    "parameters": config.parameterCount, "tokens_per_second": (tokensPerSecond * 10).rounded() / 10,
    "step_ms_median": (median * 1e4).rounded() / 10, "gflops": (achieved * 10).rounded() / 10,
    "sgemm_peak_gflops": (peak * 10).rounded() / 10, "mfu": (achieved / peak * 1000).rounded() / 1000,
    "loss_first": losses.first!, "loss_last": losses.last!, "peak_rss_mb": usage.ru_maxrss / 1024,
    "generate_tokens_per_second": generation.rounded(),
]
let json = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys])
print(String(decoding: json, as: UTF8.self))
