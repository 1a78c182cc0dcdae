import BPETokenizer
import Foundation
import Inference

/// What `pipe generate` prints: one sequence's text streamed as its tokens come, or every
/// sequence's text (or JSON) when they finish; stop strings cut the text; timings at the end.
/// The engine calls `handle` on the thread that steps it.
final class GenerationOutput: @unchecked Sendable {
    private let tokenizer: Tokenizer
    private let stops: [[UInt8]]
    private let streams: Bool
    private var sequences: [Sequence] = []
    private let started = Date()

    /// One sequence's prompt, the bytes generated so far and how it ended.
    private final class Sequence {
        let prompt: String
        let promptIds: [Int32]
        var ids: [Int32] = []
        var bytes: [UInt8] = []
        /// Bytes already written to standard output (streaming only).
        var written = 0
        var firstToken: Date?
        var finish: FinishReason?

        init(prompt: String, ids: [Int32]) {
            self.prompt = prompt
            promptIds = ids
        }
    }

    init(tokenizer: Tokenizer, stops: [String], streams: Bool) {
        self.tokenizer = tokenizer
        self.stops = stops.filter { !$0.isEmpty }.map { Array($0.utf8) }
        self.streams = streams
    }

    /// Registers a sequence; returns its index.
    func add(_ prompt: String, ids: [Int32]) -> Int {
        sequences.append(Sequence(prompt: prompt, ids: ids))
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
            sequence.bytes += tokenizer.bytes(t.token)
            if let cut = stopCut(sequence.bytes) {
                sequence.bytes.removeLast(sequence.bytes.count - cut)
                stream(sequence, final: true)
                return false
            }
            stream(sequence, final: false)
        case .finished(let reason):
            sequence.finish = reason
            stream(sequence, final: true)
        case .promptScored:
            break
        }
        return true
    }

    /// Where the first stop string starts, if one is in the text.
    private func stopCut(_ bytes: [UInt8]) -> Int? {
        stops.compactMap { stop in
            bytes.count >= stop.count ? (0...(bytes.count - stop.count)).first { bytes[$0..<$0 + stop.count].elementsEqual(stop) } : nil
        }.min()
    }

    /// Writes what is safe to write: whole UTF-8 characters that no stop string could still claim.
    private func stream(_ sequence: Sequence, final: Bool) {
        guard streams else { return }
        let held = final ? 0 : max(0, (stops.map(\.count).max() ?? 1) - 1)
        let limit = UTF8Stream.completePrefix(Array(sequence.bytes.dropLast(held)))
        guard limit > sequence.written else { return }
        FileHandle.standardOutput.write(Data(sequence.bytes[sequence.written..<limit]))
        sequence.written = limit
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
        let memory = ProcessMemory.current
        if json {
            for (i, s) in sequences.enumerated() {
                let object: [String: Any] = [
                    "index": i, "prompt": s.prompt, "prompt_tokens": s.promptIds.count, "text": String(decoding: s.bytes, as: UTF8.self),
                    "tokens": s.ids.map(Int.init), "finish_reason": s.finish?.rawValue ?? "length",
                ]
                print(try Self.jsonLine(object))
            }
            print(try Self.jsonLine([
                "sequences": sequences.count, "prompt_tokens": promptTokens, "generated_tokens": generated,
                "prefill_seconds": prefill, "decode_seconds": decode,
                "prefill_tokens_per_second": Double(promptTokens) / max(prefill, 1e-9),
                "decode_tokens_per_second": Double(decoded) / max(decode, 1e-9),
                "weights_type": weights.matrixType.name, "weights_bytes": weights.byteCount,
                "peak_rss_bytes": memory.peak, "rss_bytes": memory.current,
            ]))
        } else {
            if streams {
                FileHandle.standardOutput.write(Data("\n".utf8))
            } else {
                for (i, s) in sequences.enumerated() {
                    print("--- sequence \(i) (\(s.finish?.rawValue ?? "length"))")
                    print(s.prompt + String(decoding: s.bytes, as: UTF8.self))
                }
            }
            FileHandle.standardError.write(Data(String(
                format: "%d prompt tokens in %.2f s (%.1f tokens/s); %d tokens generated in %.2f s (%.1f tokens/s after the first, %d sequences); peak RSS %.1f MB\n",
                promptTokens, prefill, Double(promptTokens) / max(prefill, 1e-9), generated, ended.timeIntervalSince(started),
                Double(decoded) / max(decode, 1e-9), sequences.count, Double(memory.peak) / 1e6).utf8))
        }
    }

    private static func jsonLine(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}

/// This process's resident memory, now and at its peak (VmRSS and VmHWM of /proc/self/status);
/// 0 where the system has no /proc (the figures are a report, not a decision).
enum ProcessMemory {
    static var current: (current: Int, peak: Int) {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return (0, 0) }
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first { Int($0) != nil } ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }
}
