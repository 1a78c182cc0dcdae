import BPETokenizer
import PipeKit

/// An example as token ids, with which of them training learns (each is the target of the
/// position before it). Built segment by segment: the prompt's text and the completion's are
/// tokenized apart and the ids concatenated, so what is learned is known from the segments,
/// never found by searching the ids for a template string.
struct TokenizedExample: Equatable {
    var tokens: [Int32] = []
    var learned: [Bool] = []

    /// Positions a row needs: every token but the last is an input.
    var positions: Int { max(0, tokens.count - 1) }
    /// Targets training learns.
    var targets: Int { learned.dropFirst().filter { $0 }.count }

    /// How an example becomes segments of text.
    struct Rendering {
        let tokenizer: Tokenizer
        let template: ChatTemplate?
        /// Appended (and learned) after a completion or a text, so the model learns to stop.
        let endOfText: Int32?
        /// Learn the prompt's tokens too.
        let trainOnPrompt: Bool

        func tokenize(_ example: Example) throws -> TokenizedExample {
            var result = TokenizedExample()
            func add(_ text: String, learned: Bool) {
                let ids = tokenizer.encode(text)
                result.tokens += ids
                result.learned += Array(repeating: learned || trainOnPrompt, count: ids.count)
            }
            switch example {
            case .completion(let prompt, let completion, _):
                add(prompt, learned: false)
                add(completion, learned: true)
            case .chat(let messages):
                guard let template else { throw StageError("chat examples need a chat_template") }
                for segment in try template.segments(messages, addGenerationPrompt: false) { add(segment.text, learned: segment.trained) }
            case .text(let text):
                add(text, learned: true)
            }
            if let endOfText, !example.isChat {
                result.tokens.append(endOfText)
                result.learned.append(true)
            }
            return result
        }
    }
}

extension Example {
    var isChat: Bool { if case .chat = self { return true } else { return false } }
}
