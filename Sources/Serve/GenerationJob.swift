import Foundation
import Inference
import NIOCore
import Synchronization

/// The sequences of one HTTP request on the engine: one per choice, their events turned into
/// text pieces (stop strings found on the engine's thread, so a stop ends the sequence at that
/// step) and delivered in order on `updates`. The sequences are cancelled when the client's
/// connection closes, when the consumer stops reading, or on `cancel()`.
final class GenerationJob: Sendable {
    /// What a choice reports, in order: its prompt's scores (when asked), pieces of text, its end.
    enum Update: Sendable {
        case promptScored(choice: Int, [TokenLogprob])
        case piece(choice: Int, GeneratedText.Piece)
        case finished(choice: Int, FinishReason)
    }

    /// One sequence to run: the prompt's tokens and the engine request.
    struct Sequence {
        var request: GenerationRequest
        var stops: [String]
    }

    let updates: AsyncStream<Update>
    private let continuation: AsyncStream<Update>.Continuation
    private let handles = Handles()
    private let state = Mutex(Progress())
    private let started: Date

    /// Counts kept on the engine's thread.
    private struct Progress {
        var generated = 0
        var running = 0
        var firstToken: Date?
    }

    /// Submits every sequence, or none: a refused one (context length, a token outside the
    /// vocabulary) cancels those submitted before it and is a 400. A full queue is a 503.
    init(_ sequences: [Sequence], model: ServedModel, maxQueue: Int, metrics: ServerMetrics, channel: (any Channel)?,
         started: Date) throws(APIError) {
        (updates, continuation) = AsyncStream.makeStream(of: Update.self)
        self.started = started
        let engine = model.engine
        // Free slots first, then up to `maxQueue` sequences waiting.
        guard engine.queuedCount + engine.activeCount + sequences.count <= engine.slotCount + maxQueue else {
            throw .overloaded("the queue is full (\(engine.queuedCount) sequences waiting, at most \(maxQueue)); retry later")
        }
        state.withLock { $0.running = sequences.count }
        for (index, sequence) in sequences.enumerated() {
            let text = GeneratedText(stops: sequence.stops)
            let handler = ChoiceHandler(index: index, text: text, model: model, job: self, metrics: metrics)
            do {
                let handle = try engine.submit(sequence.request) { handler.handle($0) }
                handles.add(handle)
            } catch {
                cancel()
                continuation.finish()
                guard let error = error as? InferenceError else { throw .server("\(error)") }
                switch error.kind {
                case .contextLengthExceeded: throw .contextLengthExceeded(error.description)
                case .invalidRequest: throw .invalid(error.description, param: "prompt")
                case .model: throw .server(error.description)
                }
            }
        }
        let handles = self.handles
        continuation.onTermination = { _ in handles.cancel() }
        channel?.closeFuture.whenComplete { _ in handles.cancel() }
    }

    /// Cancels every sequence (each frees its slot before the engine's next step).
    func cancel() { handles.cancel() }

    /// The handles of the submitted sequences.
    private final class Handles: Sendable {
        private let list = Mutex<[SequenceHandle]>([])
        func add(_ handle: SequenceHandle) { list.withLock { $0.append(handle) } }
        func cancel() { list.withLock { $0.forEach { $0.cancel() } } }
    }

    /// Tokens generated so far (stop-string tokens included).
    var generatedTokens: Int { state.withLock { $0.generated } }

    /// Seconds from the request's arrival to its first generated token.
    var timeToFirstToken: Double? { state.withLock { $0.firstToken?.timeIntervalSince(started) } }

    fileprivate func yield(_ update: Update) { continuation.yield(update) }

    /// Records a generated token; returns whether it was the request's first.
    fileprivate func recordToken(at time: Date) -> Bool {
        state.withLock {
            $0.generated += 1
            guard $0.firstToken == nil else { return false }
            $0.firstToken = time
            return true
        }
    }

    fileprivate func sequenceFinished() {
        let last = state.withLock {
            $0.running -= 1
            return $0.running == 0
        }
        if last { continuation.finish() }
    }

    /// Turns one sequence's engine events into updates; runs on the engine's thread.
    private final class ChoiceHandler: @unchecked Sendable {
        let index: Int
        let text: GeneratedText
        let model: ServedModel
        let job: GenerationJob
        let metrics: ServerMetrics
        var lastToken: Date?

        init(index: Int, text: GeneratedText, model: ServedModel, job: GenerationJob, metrics: ServerMetrics) {
            self.index = index
            self.text = text
            self.model = model
            self.job = job
            self.metrics = metrics
        }

        func handle(_ event: GenerationEvent) -> Bool {
            switch event {
            case .promptScored(let scores):
                job.yield(.promptScored(choice: index, scores))
            case .token(let token):
                let now = Date()
                if job.recordToken(at: now), let ttft = job.timeToFirstToken { metrics.observeFirstToken(seconds: ttft) }
                if let lastToken { metrics.observeTokenLatency(seconds: now.timeIntervalSince(lastToken)) }
                lastToken = now
                metrics.countGenerated(1)
                let (piece, stopped) = text.add(token, bytes: model.bytes(token.token))
                if !piece.isEmpty { job.yield(.piece(choice: index, piece)) }
                return !stopped
            case .finished(let reason):
                let rest = text.finish()
                if !rest.isEmpty { job.yield(.piece(choice: index, rest)) }
                job.yield(.finished(choice: index, reason))
                job.sequenceFinished()
            }
            return true
        }
    }
}
