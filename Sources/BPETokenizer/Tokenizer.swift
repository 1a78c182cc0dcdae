import Foundation

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
