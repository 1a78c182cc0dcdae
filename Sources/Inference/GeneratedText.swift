/// One sequence's text as its tokens arrive (on the engine's thread): the bytes so far, where a
/// stop string cuts them, and what is safe to release, that is whole UTF-8 characters that no
/// stop string could still claim. Each released piece carries the tokens whose text it starts.
/// `pipe generate` and `pipe serve` both stream through it.
public final class GeneratedText {
    /// Text released at once, with the tokens whose first byte is in it.
    public struct Piece: Sendable {
        public var text = ""
        public var tokens: [TokenLogprob] = []
        public var isEmpty: Bool { text.isEmpty && tokens.isEmpty }
    }

    private let stops: [[UInt8]]
    private let longestStop: Int
    private var bytes: [UInt8] = []
    /// Each token and the offset of its first byte.
    private var tokens: [(token: TokenLogprob, start: Int)] = []
    private var releasedBytes = 0
    private var releasedTokens = 0

    public init(stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }
        longestStop = self.stops.map(\.count).max() ?? 0
    }

    /// Adds a token's bytes; returns what can be released and whether a stop string appeared
    /// (then the text ends before it and nothing more is taken).
    public func add(_ token: TokenLogprob, bytes piece: [UInt8]) -> (Piece, stopped: Bool) {
        let searchFrom = max(0, bytes.count - longestStop + 1)
        tokens.append((token, bytes.count))
        bytes += piece
        if let cut = stopCut(from: searchFrom) {
            bytes.removeLast(bytes.count - cut)
            return (release(upTo: cut), true)
        }
        let held = max(0, longestStop - 1)
        return (release(upTo: Self.completePrefix(bytes, limit: bytes.count - held)), false)
    }

    /// Releases the rest (the sequence ended).
    public func finish() -> Piece { release(upTo: bytes.count) }

    private func release(upTo end: Int) -> Piece {
        guard end > releasedBytes else { return Piece() }
        var piece = Piece(text: String(decoding: bytes[releasedBytes..<end], as: UTF8.self))
        while releasedTokens < tokens.count, tokens[releasedTokens].start < end {
            piece.tokens.append(tokens[releasedTokens].token)
            releasedTokens += 1
        }
        releasedBytes = end
        return piece
    }

    /// Where the first stop string starts, looking at starts from `from` on.
    private func stopCut(from: Int) -> Int? {
        stops.compactMap { stop in
            bytes.count >= stop.count ? (min(from, bytes.count - stop.count)...(bytes.count - stop.count)).first {
                bytes[$0..<$0 + stop.count].elementsEqual(stop)
            } : nil
        }.min()
    }

    /// The longest prefix of `bytes[..<limit]` that does not end inside a UTF-8 character.
    static func completePrefix(_ bytes: [UInt8], limit: Int) -> Int {
        guard limit > 0 else { return 0 }
        var i = limit - 1, back = 0
        while i >= 0, back < 4, bytes[i] & 0xC0 == 0x80 { i -= 1; back += 1 }
        guard i >= 0 else { return limit }
        let lead = bytes[i]
        let needed = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return limit - i >= needed ? limit : i
    }
}
