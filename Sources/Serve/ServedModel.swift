import BPETokenizer
import Foundation
import Inference
import Synchronization

/// The model a server answers with: its inference engine (stepping on a thread of its own), its
/// tokenizer and chat template. `encode` is serialized (the tokenizer's encoder keeps a cache);
/// reading a token's bytes is not.
public final class ServedModel: Sendable {
    public let name: String
    public let engine: InferenceEngine
    public let chatTemplate: ChatTemplate?
    public let created = Int(Date().timeIntervalSince1970)
    nonisolated(unsafe) private let tokenizer: Tokenizer
    private let encoding = Mutex(())
    private let onRetire: (@Sendable () -> Void)?

    /// `onRetire` runs once a reload has replaced the model and its last request has ended
    /// (it removes the files the model was loaded from, for one).
    public init(name: String, engine: InferenceEngine, tokenizer: Tokenizer, chatTemplate: ChatTemplate?,
                onRetire: (@Sendable () -> Void)? = nil) {
        self.name = name
        self.engine = engine
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        self.onRetire = onRetire
    }

    /// Called by the reloader once nothing uses the model any more.
    func retire() { onRetire?() }

    public var context: Int { engine.config.context }
    public var vocabularySize: Int { tokenizer.vocabularySize }
    var endOfText: Int32? { engine.config.eosTokenId.map(Int32.init) }

    func encode(_ text: String) -> [Int32] { encoding.withLock { _ in tokenizer.encode(text) } }

    /// A token's bytes (a special token's UTF-8 text).
    func bytes(_ id: Int32) -> [UInt8] { tokenizer.bytes(id) }

    /// The text of in-vocabulary ids; a 400 naming the first id outside it.
    func text(_ ids: [Int32]) throws(APIError) -> String {
        if let bad = ids.first(where: { $0 < 0 || Int($0) >= vocabularySize }) {
            throw .invalid("token \(bad) is outside the vocabulary 0..<\(vocabularySize)", param: "prompt")
        }
        return String(decoding: ids.flatMap(bytes), as: UTF8.self)
    }

    /// How a token reads in log-probability listings (its text, lossy for a cut character).
    func piece(_ id: Int32) -> String { String(decoding: bytes(id), as: UTF8.self) }
}
