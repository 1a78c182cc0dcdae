import CTrainKernels
import Foundation
import Support

/// How to choose each next token. Defaults sample from the model's distribution unchanged
/// (temperature 1, no truncation, no penalties); temperature 0 is greedy.
public struct SamplingSettings: Sendable, Equatable {
    public var temperature = 1.0
    /// Keep the k most likely tokens (0: all).
    public var topK = 0
    /// Keep the smallest set of most likely tokens whose probability reaches p (1: all).
    public var topP = 1.0
    /// Drop tokens less likely than min_p times the most likely one (0: none).
    public var minP = 0.0
    /// Divides positive logits (multiplies negative ones) of tokens already in the sequence
    /// (prompt included), as Hugging Face's repetition_penalty; 1 turns it off.
    public var repetitionPenalty = 1.0
    /// Subtracts frequency × count and presence × (count > 0) from the logits of tokens already
    /// generated, as OpenAI's API defines them.
    public var frequencyPenalty = 0.0
    public var presencePenalty = 0.0
    /// The sequence's own generator: the same seed gives the same tokens whatever else is batched.
    public var seed: UInt64 = 0
    /// Alternatives reported with each token's log-probability (0: none).
    public var topLogprobs = 0

    public init() {}

    /// Greedy decoding.
    public static var greedy: SamplingSettings {
        var s = SamplingSettings()
        s.temperature = 0
        return s
    }
}

/// A token with its log-probability under the model (the raw distribution, before temperature,
/// truncation or penalties), and the most likely alternatives at that position.
public struct TokenLogprob: Sendable, Equatable {
    public var token: Int32
    public var logprob: Double
    public var top: [Alternative]

    /// One of the most likely tokens at a position.
    public struct Alternative: Sendable, Equatable {
        public var token: Int32
        public var logprob: Double
    }
}

/// Chooses tokens for one sequence from its logits, with that sequence's penalties and seeded
/// generator; works in place on the logits row and allocates only for the candidates it keeps.
struct TokenSampler {
    let settings: SamplingSettings
    private var rng: SplitMix64
    /// How often each token occurs in the prompt, and in the completion.
    private var promptCounts: [Int32: Int] = [:]
    private var generatedCounts: [Int32: Int] = [:]

    init(_ settings: SamplingSettings, prompt: [Int32]) {
        self.settings = settings
        rng = SplitMix64(seed: settings.seed)
        if settings.repetitionPenalty != 1 { for t in prompt { promptCounts[t, default: 0] += 1 } }
    }

    /// Records a generated token for the penalties.
    mutating func accept(_ token: Int32) { generatedCounts[token, default: 0] += 1 }

    /// The next token from `logits` (modified in place by the penalties).
    mutating func next(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32 {
        applyPenalties(logits)
        if settings.temperature <= 0 { return Int32(Self.argmax(logits)) }
        let best = logits[Self.argmax(logits)]
        let t = Float(settings.temperature)
        // Candidates: tokens whose probability is at least 1e-12 of the best one's (the rest
        // carry a negligible mass), narrowed by min_p, sorted most likely first.
        let floor = best - t * Float(-log(max(settings.minP, 1e-12)))
        var candidates: [(token: Int32, weight: Double)] = []
        for i in 0..<logits.count where logits[i] >= floor {
            candidates.append((Int32(i), Double((logits[i] - best) / t)))
        }
        candidates.sort { $0.weight > $1.weight || ($0.weight == $1.weight && $0.token < $1.token) }
        if settings.topK > 0, settings.topK < candidates.count { candidates.removeLast(candidates.count - settings.topK) }
        for i in candidates.indices { candidates[i].weight = exp(candidates[i].weight) }
        if settings.topP < 1 {
            let total = candidates.reduce(0) { $0 + $1.weight }
            var cumulative = 0.0, keep = 0
            while keep < candidates.count, cumulative < settings.topP * total {
                cumulative += candidates[keep].weight
                keep += 1
            }
            candidates.removeLast(candidates.count - max(1, keep))
        }
        var target = rng.nextUnit() * candidates.reduce(0) { $0 + $1.weight }
        for candidate in candidates {
            target -= candidate.weight
            if target < 0 { return candidate.token }
        }
        return candidates[candidates.count - 1].token
    }

    private func applyPenalties(_ logits: UnsafeMutableBufferPointer<Float>) {
        if settings.repetitionPenalty != 1 {
            let p = Float(settings.repetitionPenalty)
            for token in Set(promptCounts.keys).union(generatedCounts.keys) {
                let i = Int(token)
                logits[i] = logits[i] > 0 ? logits[i] / p : logits[i] * p
            }
        }
        if settings.frequencyPenalty != 0 || settings.presencePenalty != 0 {
            for (token, count) in generatedCounts {
                logits[Int(token)] -= Float(settings.frequencyPenalty) * Float(count) + Float(settings.presencePenalty)
            }
        }
    }

    static func argmax(_ values: UnsafeMutableBufferPointer<Float>) -> Int {
        var best = 0
        for i in 1..<values.count where values[i] > values[best] { best = i }
        return best
    }

    /// The log-probability of `token` under raw `logits`, with the `top` most likely tokens.
    static func logprob(of token: Int32, in logits: UnsafeBufferPointer<Float>, top: Int) -> TokenLogprob {
        // The fused cross-entropy kernel (max, then a vectorized sum of exponentials) gives
        // -log p(token); the normalizer follows from it.
        var target = token
        let loss = tk_cross_entropy(UnsafeMutablePointer(mutating: logits.baseAddress!), &target, 1, logits.count, 0, nil, nil)
        let normalizer = Double(logits[Int(token)]) + loss
        var alternatives: [TokenLogprob.Alternative] = []
        if top > 0 {
            var chosen: [(Int, Float)] = []
            for (i, v) in logits.enumerated() where chosen.count < top || v > chosen[chosen.count - 1].1 {
                let at = chosen.firstIndex { v > $0.1 } ?? chosen.count
                chosen.insert((i, v), at: at)
                if chosen.count > top { chosen.removeLast() }
            }
            alternatives = chosen.map { .init(token: Int32($0.0), logprob: Double($0.1) - normalizer) }
        }
        return TokenLogprob(token: token, logprob: -loss, top: alternatives)
    }
}
