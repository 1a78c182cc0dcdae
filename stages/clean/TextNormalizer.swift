import Foundation

/// The text repairs every document gets: Unicode normalization (NFC or NFKC), control
/// characters removed, Unicode spaces made plain spaces, line endings unified, spaces at line
/// ends cut, blank-line runs collapsed to one, and the text trimmed. Indentation is kept
/// (code and reStructuredText depend on it). Pure-ASCII text skips the Unicode pass.
struct TextNormalizer: Sendable {
    enum Form: String, Sendable { case nfc, nfkc, none }
    var form: Form = .nfc

    func normalize(_ text: String) -> String {
        var s = text
        if form == .nfkc, s.utf8.contains(where: { $0 >= 0x80 }) {
            s = s.precomposedStringWithCompatibilityMapping
        } else if form == .nfc, !Self.isSurelyNFC(s) {
            s = s.precomposedStringWithCanonicalMapping
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var pending: [UInt8] = []  // spaces and tabs since the last visible character
        var newlines = 0
        s.utf8.withContiguousStorageIfAvailable { bytes in
            var i = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == 0x0D || b == 0x0A {
                    if b == 0x0D, i + 1 < bytes.count, bytes[i + 1] == 0x0A { i += 1 }
                    pending.removeAll(keepingCapacity: true)
                    newlines += 1
                    i += 1
                    continue
                }
                if b == 0x09 || b == 0x20 { pending.append(b); i += 1; continue }
                if b < 0x20 || b == 0x7F { i += 1; continue }
                let length = b < 0x80 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
                if length > 1 {
                    switch Self.classify(bytes, i, length) {
                    case .space: pending.append(0x20); i += length; continue
                    case .removed: i += length; continue
                    case .visible: break
                    }
                }
                if newlines > 0 {
                    if !out.isEmpty { out.append(0x0A); if newlines > 1 { out.append(0x0A) } }
                    newlines = 0
                }
                if !pending.isEmpty {
                    out += pending
                    pending.removeAll(keepingCapacity: true)
                }
                if length == 1 {
                    out.append(b)
                } else {
                    for k in i..<min(i + length, bytes.count) { out.append(bytes[k]) }
                }
                i += length
            }
        }
        return String(decoding: out, as: UTF8.self)
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
