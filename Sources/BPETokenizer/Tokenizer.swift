import Foundation
import PipeKit

/// A byte-level BPE tokenizer loaded from a Hugging Face `tokenizer.json`, for `pipe encode`
/// and `pipe decode` and for stages that need one.
public final class Tokenizer {
    package let model: BPEModel
    private let encoder: Encoder

    /// Loads `tokenizer.json` (or the file of that name inside a folder).
    public init(contentsOf url: URL) throws {
        var file = url
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            file = url.appendingPathComponent("tokenizer.json")
        }
        model = try TokenizerFile.read(file)
        encoder = Encoder(model: model)
    }

    package init(model: BPEModel) {
        self.model = model
        encoder = Encoder(model: model)
    }

    /// A copy with these special tokens added after today's vocabulary, in order; a text that
    /// is already a special token keeps its id. Special tokens are matched in the text before
    /// the pre-tokenizer runs, so they are never split.
    public func addingSpecialTokens(_ texts: [String]) throws -> Tokenizer {
        var tokens = model.tokens, specials = model.specials
        let pieces = Dictionary((0..<Int32(vocabularySize)).map { (piece($0), $0) }) { first, _ in first }
        for text in texts where !specials.contains(where: { $0.text == text }) {
            guard !text.isEmpty else { throw TokenizerError("a special token cannot be empty") }
            if let id = pieces[text] {
                throw TokenizerError("special token \(JSONValue.string(text).canonicalJSON) is already the ordinary token \(id) of the vocabulary; choose another text")
            }
            specials.append((Int32(tokens.count), text))
            tokens.append(Array(text.utf8))
        }
        return Tokenizer(model: try BPEModel(tokens: tokens, specials: specials, merges: model.merges))
    }

    /// Writes the tokenizer as a Hugging Face `tokenizer.json`.
    public func write(to url: URL) throws { try TokenizerFile.write(model, to: url) }

    /// The id of a special token's text.
    public func specialTokenId(_ text: String) -> Int32? { model.specials.first { $0.text == text }?.id }

    public var vocabularySize: Int { model.vocabularySize }

    /// Token ids of `text`; special tokens written in the text become their ids.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        encoder.encode(text, into: &ids)
        return ids
    }

    /// The text of `ids`.
    public func decode(_ ids: [Int32]) throws -> String { try model.decode(ids) }

    /// Whether `id` is a special token (`<|endoftext|>`, …) rather than text.
    public func isSpecial(_ id: Int32) -> Bool { model.specials.contains { $0.id == id } }

    /// The merges in rank order, as the pieces they join (`"Ġ t"` is `Ġ` + `t`).
    public var mergePieces: [(left: String, right: String)] { model.merges.map { (piece($0.left), piece($0.right)) } }

    /// The raw bytes of a token (a special token's UTF-8 text).
    public func bytes(_ id: Int32) -> [UInt8] { model.tokens[Int(id)] }

    /// How many bytes of text a token stands for: 0 for special tokens, which are markers rather
    /// than text (bits per byte divides by these).
    public func textBytes(_ id: Int32) -> Int {
        isSpecial(id) ? 0 : model.tokens[Int(id)].count
    }

    /// How a token reads (its byte-level string, or a special token's text).
    public func piece(_ id: Int32) -> String {
        if let special = model.specials.first(where: { $0.id == id }) { return special.text }
        return ByteLevel.encode(model.tokens[Int(id)])
    }
}
