import BPETokenizer
import Foundation
import Inference
import Support

/// What `pipe generate` prints: one sequence's text streamed as its tokens come, or every
/// sequence's text (or JSON) when they finish; stop strings cut the text (`GeneratedText`);
/// timings at the end.
/// The engine calls `handle` on the thread that steps it.
final class GenerationOutput: @unchecked Sendable {
    private let tokenizer: Tokenizer
    private let stops: [String]
    private let streams: Bool
    private var sequences: [Sequence] = []
    private let started = Date()

    /// One sequence's prompt, its text as released so far and how it ended.
    private final class Sequence {
        let prompt: String
        let promptIds: [Int32]
        let generated: GeneratedText
        var ids: [Int32] = []
        var text = ""
        var firstToken: Date?
        var finish: FinishReason?

        init(prompt: String, ids: [Int32], stops: [String]) {
            self.prompt = prompt
            promptIds = ids
            generated = GeneratedText(stops: stops)
        }
    }

    init(tokenizer: Tokenizer, stops: [String], streams: Bool) {
        self.tokenizer = tokenizer
        self.stops = stops.filter { !$0.isEmpty }
        self.streams = streams
    }

    /// Registers a sequence; returns its index.
    func add(_ prompt: String, ids: [Int32]) -> Int {
        sequences.append(Sequence(prompt: prompt, ids: ids, stops: stops))
        if streams { FileHandle.standardOutput.write(Data(prompt.utf8)) }
        return sequences.count - 1
    }

    /// Takes an event of sequence `index`; false ends it (a stop string appeared).
    func handle(_ event: GenerationEvent, of index: Int) -> Bool {
        let sequence = sequences[index]
        switch event {
        case .token(let t):
            if sequence.firstToken == nil { sequence.firstToken = Date() }
            sequence.ids.append(t.token)
            let (piece, stopped) = sequence.generated.add(t, bytes: tokenizer.bytes(t.token))
            release(piece, of: sequence)
            return !stopped
        case .finished(let reason):
            sequence.finish = reason
            release(sequence.generated.finish(), of: sequence)
        case .promptScored:
            break
        }
        return true
    }

    /// Text that no stop string can still claim: kept, and written when streaming.
    private func release(_ piece: GeneratedText.Piece, of sequence: Sequence) {
        sequence.text += piece.text
        if streams, !piece.text.isEmpty { FileHandle.standardOutput.write(Data(piece.text.utf8)) }
    }

    /// Prints every sequence (unless streamed) and the timings.
    func finish(json: Bool, weights: ModelWeights) throws {
        let ended = Date()
        let promptTokens = sequences.reduce(0) { $0 + $1.promptIds.count }
        let generated = sequences.reduce(0) { $0 + $1.ids.count }
        let firstTokens = sequences.compactMap(\.firstToken)
        let prefill = (firstTokens.max() ?? ended).timeIntervalSince(started)
        let decode = ended.timeIntervalSince(firstTokens.max() ?? ended)
        let decoded = generated - firstTokens.count
        let peak = ProcessMemory.peakResidentBytes
        if json {
            for (i, s) in sequences.enumerated() {
                let object: [String: Any] = [
                    "index": i, "prompt": s.prompt, "prompt_tokens": s.promptIds.count, "text": s.text,
                    "tokens": s.ids.map(Int.init), "finish_reason": s.finish?.rawValue ?? "length",
                ]
                print(try Self.jsonLine(object))
            }
            print(try Self.jsonLine([
                "sequences": sequences.count, "prompt_tokens": promptTokens, "generated_tokens": generated,
                "prefill_seconds": prefill, "decode_seconds": decode,
                "prefill_tokens_per_second": Double(promptTokens) / max(prefill, 1e-9),
                "decode_tokens_per_second": Double(decoded) / max(decode, 1e-9),
                "weights_type": weights.matrixType.name, "weights_bytes": weights.byteCount, "peak_rss_bytes": peak,
            ]))
        } else {
            if streams {
                FileHandle.standardOutput.write(Data("\n".utf8))
            } else {
                for (i, s) in sequences.enumerated() {
                    print("--- sequence \(i) (\(s.finish?.rawValue ?? "length"))")
                    print(s.prompt + s.text)
                }
            }
            FileHandle.standardError.write(Data(String(
                format: "%d prompt tokens in %.2f s (%.1f tokens/s); %d tokens generated in %.2f s (%.1f tokens/s after the first, %d sequences); peak RSS %.1f MB\n",
                promptTokens, prefill, Double(promptTokens) / max(prefill, 1e-9), generated, ended.timeIntervalSince(started),
                Double(decoded) / max(decode, 1e-9), sequences.count, Double(peak) / 1e6).utf8))
        }
    }

    private static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
