import CLD2Shim

/// The main language of a text by CLD2 (Compact Language Detector 2, Debian's libcld2), which
/// runs offline from tables compiled into the library and knows 80+ languages.
public struct LanguageIdentifier: Sendable {
    /// A detected language: ISO 639-1 code (`un` when unknown), the share of the text in it,
    /// and whether CLD2 trusts the answer.
    public struct Guess: Sendable, Equatable {
        public var code: String
        public var percent: Int
        public var reliable: Bool

        public init(code: String, percent: Int, reliable: Bool) {
            self.code = code
            self.percent = percent
            self.reliable = reliable
        }
    }

    /// CLD2 looks at this many bytes at most; more adds time and no accuracy.
    public var maxBytes = 64 * 1024

    public init() {}

    public func identify(_ text: [UInt8]) -> Guess {
        var length = min(text.count, maxBytes)
        // Do not cut a character in two.
        while length < text.count, length > 0, text[length] & 0xC0 == 0x80 { length -= 1 }
        let guess = text.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { pipe_cld2_detect($0.baseAddress, Int32(length)) }
        }
        let code = withUnsafeBytes(of: guess.code) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return Guess(code: Self.iso639_1(code), percent: Int(guess.percent), reliable: guess.reliable != 0)
    }

    /// CLD2 names a few languages by other codes than ISO 639-1; map them back.
    static func iso639_1(_ code: String) -> String {
        switch code {
        case "zh-Hant": return "zh"
        case "iw": return "he"
        case "in": return "id"
        case "jw": return "jv"
        default: return code
        }
    }
}
