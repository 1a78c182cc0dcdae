import Foundation
import Synchronization
import Transformer

/// What one sequence asks of the engine.
public struct GenerationRequest: Sendable {
    /// The tokens to continue (at least one).
    public var prompt: [Int32]
    /// Tokens to generate at most (0: only score the prompt).
    public var maxTokens: Int
    public var sampling: SamplingSettings
    /// Tokens that end the sequence (not reported as generated text).
    public var stopTokens: Set<Int32>
    /// Score the prompt's tokens, each given the ones before it (echo with log-probabilities,
    /// and scoring a continuation): `.promptScored` reports tokens 1... of the prompt.
    public var scorePrompt: Bool

    public init(prompt: [Int32], maxTokens: Int, sampling: SamplingSettings = SamplingSettings(), stopTokens: Set<Int32> = [],
                scorePrompt: Bool = false) {
        self.prompt = prompt
        self.maxTokens = maxTokens
        self.sampling = sampling
        self.stopTokens = stopTokens
        self.scorePrompt = scorePrompt
    }
}

/// Why a sequence ended.
public enum FinishReason: String, Sendable {
    /// A stop token, or the caller asked to stop (a stop string).
    case stop
    /// It generated its `maxTokens`.
    case length
    /// It was cancelled (the client went away).
    case cancelled
}

/// What the engine reports about a sequence, in order: the prompt's scores (when asked), each
/// generated token, then how it finished.
public enum GenerationEvent: Sendable {
    case promptScored([TokenLogprob])
    case token(TokenLogprob)
    case finished(FinishReason)
}

/// A submitted sequence; cancelling it frees its slot before the next step.
public final class SequenceHandle: Sendable {
    private let cancelled = Atomic<Bool>(false)
    public func cancel() { cancelled.store(true, ordering: .relaxed) }
    var isCancelled: Bool { cancelled.load(ordering: .relaxed) }
}

/// Continuous batching over a fixed number of slots. Each `step` feeds one batched forward pass:
/// one new token for every generating sequence plus chunks of waiting prompts (up to
/// `maxBatchTokens` rows in all), so a new prompt joins between steps without stalling the
/// others and a finished sequence leaves at once. Every sequence has its own KV cache, position
/// and seeded sampler, so its tokens do not depend on what else is in the batch.
///
/// `submit` may be called from any thread; `step` from one thread at a time (the caller's, or
/// the loop `start` runs). Events are delivered on the stepping thread.
public final class InferenceEngine: @unchecked Sendable {
    public let weights: ModelWeights
    public var config: ModelConfig { weights.config }
    public let slotCount: Int
    public let maxBatchTokens: Int
    private let forward: BatchForward
    private let team: ThreadTeam
    private var slots: [Slot?]
    private var caches: [KVCache]
    private let queue = NSCondition()
    private var pending: [Slot] = []
    private var loop: Thread?
    private var stopping = false

    /// A sequence in a slot: its tokens so far, how many are in its cache, its sampler.
    private final class Slot {
        let request: GenerationRequest
        let handle: SequenceHandle
        let onEvent: @Sendable (GenerationEvent) -> Bool
        var cache: KVCache?
        var sampler: TokenSampler
        var tokens: [Int32]
        var fed = 0
        var generated = 0
        var promptScores: [TokenLogprob] = []
        var scoresReported = false

        init(_ request: GenerationRequest, handle: SequenceHandle, onEvent: @escaping @Sendable (GenerationEvent) -> Bool) {
            self.request = request
            self.handle = handle
            self.onEvent = onEvent
            sampler = TokenSampler(request.sampling, prompt: request.prompt)
            tokens = request.prompt
        }

        var wantsScores: Bool { request.scorePrompt && !scoresReported }

        /// Reports the prompt's scores once they are all there.
        func reportScoresIfComplete() -> Bool {
            guard wantsScores, promptScores.count == request.prompt.count - 1 else { return true }
            scoresReported = true
            return onEvent(.promptScored(promptScores))
        }
    }

    public init(weights: ModelWeights, slots: Int = 1, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
                maxBatchTokens: Int = 512) {
        BLAS.useSingleThread()
        self.weights = weights
        slotCount = max(1, slots)
        self.maxBatchTokens = max(maxBatchTokens, slotCount)
        team = ThreadTeam(threads)
        forward = BatchForward(weights: weights, team: team, maxRows: self.maxBatchTokens,
                               maxLogitRows: max(slotCount, min(self.maxBatchTokens, 64)))
        self.slots = Array(repeating: nil, count: slotCount)
        caches = (0..<slotCount).map { _ in KVCache(layers: weights.config.layers, width: weights.config.kvDim, context: weights.config.context) }
    }

    deinit { stop() }

    /// Sequences in slots, and waiting for one.
    public var activeCount: Int { queue.withLock { slots.compactMap { $0 }.count } }
    public var queuedCount: Int { queue.withLock { pending.count } }

    /// Queues a sequence. A prompt that is empty, holds a token outside the vocabulary, or does
    /// not leave room for `maxTokens` in the context is refused here, never truncated.
    public func submit(_ request: GenerationRequest, onEvent: @escaping @Sendable (GenerationEvent) -> Bool) throws -> SequenceHandle {
        let c = config
        guard !request.prompt.isEmpty else { throw InferenceError(.invalidRequest, "the prompt has no tokens") }
        guard request.maxTokens >= 0 else { throw InferenceError(.invalidRequest, "max tokens \(request.maxTokens) is negative") }
        if let bad = request.prompt.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw InferenceError(.invalidRequest, "token \(bad) is outside the vocabulary 0..<\(c.vocabSize)")
        }
        guard request.prompt.count + request.maxTokens <= c.context else {
            throw InferenceError(.contextLengthExceeded,
                                 "the prompt's \(request.prompt.count) tokens and \(request.maxTokens) to generate exceed the model's context of \(c.context) tokens")
        }
        let handle = SequenceHandle()
        queue.withLock {
            pending.append(Slot(request, handle: handle, onEvent: onEvent))
            queue.signal()
        }
        return handle
    }

    /// Steps until every submitted sequence has finished.
    public func runUntilIdle() { while step() {} }

    /// Runs steps on a thread of its own until `stop`, sleeping while there is nothing to do.
    public func start() {
        guard loop == nil else { return }
        let thread = Thread { [weak self] in
            while let engine = self, engine.waitForWork() { _ = engine.step() }
        }
        thread.stackSize = 8 << 20
        loop = thread
        thread.start()
    }

    /// Ends the loop `start` began (sequences still running are left as they are).
    public func stop() {
        queue.withLock {
            stopping = true
            queue.broadcast()
        }
    }

    private func waitForWork() -> Bool {
        queue.lock()
        defer { queue.unlock() }
        while !stopping && pending.isEmpty && slots.allSatisfy({ $0 == nil }) { queue.wait() }
        return !stopping
    }

    /// One batched forward pass over the work there is, and the events it produces. Returns
    /// false when there was nothing to do.
    @discardableResult
    public func step() -> Bool {
        admit()
        for (i, slot) in slots.enumerated() where slot?.handle.isCancelled == true { finish(i, .cancelled) }
        let plan = schedule()
        guard !plan.tokens.isEmpty else { return queue.withLock { !pending.isEmpty } }
        let logits = forward.run(tokens: plan.tokens, chunks: plan.chunks.map(\.chunk), logitRows: plan.logitRows)
        var logitIndex = 0
        for entry in plan.chunks {
            let slot = slots[entry.slot]!
            slot.fed += entry.chunk.count
            for row in entry.logitRows {
                let values = UnsafeMutableBufferPointer(start: logits + logitIndex * config.vocabSize, count: config.vocabSize)
                logitIndex += 1
                let position = row - entry.chunk.firstRow + entry.chunk.startPosition
                if position + 1 < slot.request.prompt.count {
                    slot.promptScores.append(TokenSampler.logprob(of: slot.tokens[position + 1], in: UnsafeBufferPointer(values),
                                                                  top: slot.request.sampling.topLogprobs))
                    if !slot.reportScoresIfComplete() {
                        finish(entry.slot, .stop)
                        break
                    }
                } else if let reason = generate(slot, values) {
                    finish(entry.slot, reason)
                }
            }
            if slots[entry.slot] != nil, slot.request.maxTokens == 0, slot.fed == slot.tokens.count { finish(entry.slot, .length) }
        }
        return true
    }

    /// Moves waiting sequences into free slots, first come first served.
    private func admit() {
        queue.withLock {
            for i in slots.indices where slots[i] == nil && !pending.isEmpty {
                let slot = pending.removeFirst()
                slot.cache = caches[i]
                slots[i] = slot
            }
        }
        // A one-token prompt has nothing to score: say so before its first token.
        for case let slot? in slots where slot.request.prompt.count == 1 { _ = slot.reportScoresIfComplete() }
    }

    /// A step's rows: each chunk with its slot, and the rows whose logits are needed.
    private struct Plan {
        var tokens: [Int32] = []
        var chunks: [(slot: Int, chunk: BatchChunk, logitRows: [Int])] = []
        var logitRows: [Int] = []
    }

    /// Generating sequences first (one token each), then prompt chunks in the remaining rows.
    private func schedule() -> Plan {
        var plan = Plan()
        let decoding = slots.indices.filter { slots[$0].map { $0.tokens.count - $0.fed == 1 } ?? false }
        let prefilling = slots.indices.filter { slots[$0].map { $0.tokens.count - $0.fed > 1 } ?? false }
        for i in decoding + prefilling {
            let slot = slots[i]!, rowsLeft = maxBatchTokens - plan.tokens.count
            let logitRowsLeft = forward.maxLogitRows - plan.logitRows.count
            guard rowsLeft > 0, logitRowsLeft > 0 else { break }
            var count = min(slot.tokens.count - slot.fed, rowsLeft)
            // Scoring the prompt needs a logit row for every prompt token; keep within the rows left.
            if slot.wantsScores { count = min(count, logitRowsLeft) }
            let first = plan.tokens.count
            plan.tokens += slot.tokens[slot.fed..<slot.fed + count]
            slot.cache!.reserve(slot.fed + count, keeping: slot.fed)
            let chunk = BatchChunk(cache: slot.cache!, firstRow: first, count: count, startPosition: slot.fed)
            var rows: [Int] = []
            for r in 0..<count {
                let position = slot.fed + r
                let scores = slot.request.scorePrompt && position >= 0 && position + 1 < slot.request.prompt.count
                let samples = position == slot.tokens.count - 1 && slot.generated < slot.request.maxTokens
                if scores || samples { rows.append(first + r) }
            }
            plan.chunks.append((i, chunk, rows))
            plan.logitRows += rows
        }
        return plan
    }

    /// Samples the next token of `slot` from its logits; returns why it finished, if it did.
    private func generate(_ slot: Slot, _ logits: UnsafeMutableBufferPointer<Float>) -> FinishReason? {
        let settings = slot.request.sampling
        // Only the penalties write into the logits; the log-probability is of the raw ones.
        let penalized = settings.repetitionPenalty != 1 || settings.frequencyPenalty != 0 || settings.presencePenalty != 0
        let raw = penalized ? Array(logits) : nil
        let token = slot.sampler.next(logits)
        let scored = raw.map { raw in raw.withUnsafeBufferPointer { TokenSampler.logprob(of: token, in: $0, top: settings.topLogprobs) } }
            ?? TokenSampler.logprob(of: token, in: UnsafeBufferPointer(logits), top: settings.topLogprobs)
        if slot.request.stopTokens.contains(token) { return .stop }
        slot.sampler.accept(token)
        slot.generated += 1
        slot.tokens.append(token)
        if !slot.onEvent(.token(scored)) { return .stop }
        return slot.generated >= slot.request.maxTokens ? .length : nil
    }

    private func finish(_ index: Int, _ reason: FinishReason) {
        guard let slot = slots[index] else { return }
        _ = slot.onEvent(.finished(reason))
        queue.withLock { slots[index] = nil }
    }

    /// Logits for every position of `tokens` (position i predicts token i + 1), computed apart
    /// from the slots: for tests, conformance and `--dump-logits`.
    public func logits(of tokens: [Int32]) throws -> [Float] {
        let c = config
        guard !tokens.isEmpty, tokens.count <= c.context else { throw InferenceError(.contextLengthExceeded, "\(tokens.count) tokens for a context of \(c.context)") }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw InferenceError(.invalidRequest, "token \(bad) is outside the vocabulary 0..<\(c.vocabSize)")
        }
        let cache = KVCache(layers: c.layers, width: c.kvDim, context: c.context)
        cache.reserve(tokens.count, keeping: 0)
        var out: [Float] = []
        out.reserveCapacity(tokens.count * c.vocabSize)
        var done = 0
        while done < tokens.count {
            let count = min(forward.maxLogitRows, forward.maxRows, tokens.count - done)
            let logits = forward.run(tokens: Array(tokens[done..<done + count]),
                                     chunks: [BatchChunk(cache: cache, firstRow: 0, count: count, startPosition: done)],
                                     logitRows: Array(0..<count))
            out += UnsafeBufferPointer(start: logits, count: count * c.vocabSize)
            done += count
        }
        return out
    }
}
