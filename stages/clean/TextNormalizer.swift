import Foundation
import PipeKit

/// The text repairs every document gets: Unicode normalization (NFC or NFKC), control
/// characters removed, Unicode spaces made plain spaces, line endings unified, spaces at line
/// ends cut, blank-line runs collapsed to one, and the text trimmed. Indentation is kept
/// (code and reStructuredText depend on it). Pure-ASCII text skips the Unicode pass.
struct TextNormalizer: Sendable {
    /// A Unicode normalization form, or none.
    enum Form: String, ParamChoice { case nfc, nfkc, none }
    var form: Form = .nfc

    func normalize(_ text: String) -> String {
        var s = text
        if form == .nfkc, s.utf8.contains(where: { $0 >= 0x80 }) {
            s = s.precomposedStringWithCompatibilityMapping
        } else if form == .nfc, !Self.isSurelyNFC(s) {
            s = s.precomposedStringWithCanonicalMapping
        }
        var text = s
        return text.withUTF8 { bytes in
            String(unsafeUninitializedCapacity: bytes.count) { out in Self.repair(bytes, into: out) }
        }
    }

    /// The byte-level repairs, written into `out` (never longer than the input: every rule
    /// drops bytes or replaces them with fewer). Spaces and tabs are written as they come and
    /// taken back when a line ends without another visible character; line breaks are written
    /// only once a visible character follows them, one for a single break and two for more.
    private static func repair(_ bytes: UnsafeBufferPointer<UInt8>, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        var o = 0
        var committed = 0  // output up to and including the last visible character
        var newlines = 0  // line breaks since the last visible character
        var breaksWritten = false  // whether those were already written before an indentation
        var i = 0
        let n = bytes.count
        func writeBreaks() {
            if newlines > 0, committed > 0, !breaksWritten {
                out[o] = 0x0A
                o += 1
                if newlines > 1 { out[o] = 0x0A; o += 1 }
                breaksWritten = true
            }
        }
        while i < n {
            let b = bytes[i]
            if b >= 0x21 && b < 0x7F {
                // The common case: a visible ASCII character.
                writeBreaks()
                newlines = 0
                breaksWritten = false
                out[o] = b
                o += 1
                committed = o
                i += 1
                continue
            }
            if b == 0x0D || b == 0x0A {
                if b == 0x0D, i + 1 < n, bytes[i + 1] == 0x0A { i += 1 }
                o = committed
                breaksWritten = false
                newlines += 1
                i += 1
                continue
            }
            if b == 0x09 || b == 0x20 {
                writeBreaks()
                out[o] = b
                o += 1
                i += 1
                continue
            }
            if b < 0x80 { i += 1; continue }  // other C0 controls and DEL
            let length = b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
            switch classify(bytes, i, length) {
            case .space:
                writeBreaks()
                out[o] = 0x20
                o += 1
                i += length
                continue
            case .removed:
                i += length
                continue
            case .visible:
                writeBreaks()
                newlines = 0
                breaksWritten = false
                for k in i..<min(i + length, n) {
                    out[o] = bytes[k]
                    o += 1
                }
                committed = o
                i += length
            }
        }
        return committed
    }

    /// True when NFC cannot change the text, by the Unicode quick check (every scalar's
    /// NFC_Quick_Check is Yes and combining marks are in canonical order): the standard
    /// library's `UTF8Span.checkForNFC`, which runs at hundreds of MB/s, where Foundation's
    /// normalization bridges through UTF-16. A "maybe" answer falls back to Foundation.
    static func isSurelyNFC(_ s: String) -> Bool {
        var span = s.utf8Span
        return span.checkForNFC(quickCheck: true)
    }

    private enum Class { case space, removed, visible }

    /// Unicode spaces (NBSP, U+1680, U+2000-200A, U+202F, U+205F, U+3000), C1 controls, the
    /// BOM and the zero-width space, recognised from their UTF-8 bytes.
    private static func classify(_ s: UnsafeBufferPointer<UInt8>, _ i: Int, _ length: Int) -> Class {
        guard i + length <= s.count else { return .visible }
        let b0 = s[i], b1 = s[i + 1]
        if length == 2 { return b0 == 0xC2 ? (b1 == 0xA0 ? .space : b1 <= 0x9F ? .removed : .visible) : .visible }
        guard length == 3 else { return .visible }
        let b2 = s[i + 2]
        switch (b0, b1) {
        case (0xE1, 0x9A): return b2 == 0x80 ? .space : .visible
        case (0xE2, 0x80): return b2 <= 0x8A || b2 == 0xAF ? .space : b2 == 0x8B ? .removed : .visible
        case (0xE2, 0x81): return b2 == 0x9F ? .space : .visible
        case (0xE3, 0x80): return b2 == 0x80 ? .space : .visible
        case (0xEF, 0xBB): return b2 == 0xBF ? .removed : .visible
        default: return .visible
        }
    }
}
