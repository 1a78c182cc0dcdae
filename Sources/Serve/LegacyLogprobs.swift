import Inference
import PipeKit

/// `/v1/completions` log-probabilities in OpenAI's legacy shape: parallel lists `tokens`,
/// `token_logprobs`, `top_logprobs` (token text to log-probability) and `text_offset` (where
/// each token starts in the choice's text, in Unicode scalars as Python counts). An echoed
/// prompt's first token has no log-probability: its entries are null.
struct LegacyLogprobs {
    private var tokens: [JSONValue] = []
    private var logprobs: [JSONValue] = []
    private var tops: [JSONValue] = []
    private var offsets: [JSONValue] = []
    /// Scalars of text so far (the offset of the next token).
    private(set) var offset: Int

    init(offset: Int = 0) { self.offset = offset }

    /// An echoed prompt: its first token without a score, then each scored token (null where a
    /// cancelled sequence left no score).
    mutating func appendPrompt(_ ids: [Int32], scores: [TokenLogprob], model: ServedModel) {
        for (i, id) in ids.enumerated() {
            let score = i > 0 && i - 1 < scores.count ? scores[i - 1] : nil
            append(id, logprob: score?.logprob, top: score?.top, model: model)
        }
    }

    mutating func append(_ token: TokenLogprob, model: ServedModel) { append(token.token, logprob: token.logprob, top: token.top, model: model) }

    private mutating func append(_ id: Int32, logprob: Double?, top: [TokenLogprob.Alternative]?, model: ServedModel) {
        let bytes = model.bytes(id)
        tokens.append(.string(String(decoding: bytes, as: UTF8.self)))
        logprobs.append(logprob.map(JSONValue.double) ?? .null)
        if let top {
            var alternatives: [String: JSONValue] = [:]
            for alternative in top { alternatives[model.piece(alternative.token)] = .double(alternative.logprob) }
            tops.append(.object(alternatives))
        } else {
            tops.append(.null)
        }
        offsets.append(.int(Int64(offset)))
        offset += bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) }
    }

    var json: JSONValue {
        .object(["tokens": .array(tokens), "token_logprobs": .array(logprobs), "top_logprobs": .array(tops), "text_offset": .array(offsets)])
    }
}

/// `/v1/chat/completions` log-probabilities: `{"content": [{token, logprob, bytes, top_logprobs}]}`.
enum ChatLogprobs {
    static func json(_ tokens: [TokenLogprob], model: ServedModel) -> JSONValue {
        func entry(_ id: Int32, _ logprob: Double) -> [String: JSONValue] {
            let bytes = model.bytes(id)
            return ["token": .string(String(decoding: bytes, as: UTF8.self)), "logprob": .double(logprob),
                    "bytes": .array(bytes.map { .int(Int64($0)) })]
        }
        return .object(["content": .array(tokens.map { token in
            var object = entry(token.token, token.logprob)
            object["top_logprobs"] = .array(token.top.map { .object(entry($0.token, $0.logprob)) })
            return .object(object)
        })])
    }
}
