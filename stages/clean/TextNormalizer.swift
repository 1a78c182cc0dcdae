import Foundation

/// The text repairs every document gets: Unicode normalization (NFC or NFKC), control
/// characters removed, Unicode spaces made plain spaces, line endings unified, spaces at line
/// ends cut, blank-line runs collapsed to one, and the text trimmed. Indentation is kept
/// (code and reStructuredText depend on it). Pure-ASCII text skips the Unicode pass.
struct TextNormalizer: Sendable {
    enum Form: String, Sendable { case nfc, nfkc, none }
    var form: Form = .nfc

    static func isSpace(_ v: UInt32) -> Bool {
        v == 0x20 || v == 0xA0 || v == 0x1680 || (0x2000...0x200A).contains(v) || v == 0x202F || v == 0x205F || v == 0x3000
    }

    static func isRemoved(_ v: UInt32) -> Bool {
        (v < 0x20 && v != 0x09 && v != 0x0A && v != 0x0D) || (0x7F...0x9F).contains(v) || v == 0xFEFF || v == 0x200B
    }

    func normalize(_ text: String) -> String {
        var s = text
        if form != .none, s.utf8.contains(where: { $0 >= 0x80 }) {
            s = form == .nfc ? s.precomposedStringWithCanonicalMapping : s.precomposedStringWithCompatibilityMapping
        }
        var out = String.UnicodeScalarView()
        var pending = String.UnicodeScalarView()  // spaces and tabs since the last visible character
        var newlines = 0
        var scalars = s.unicodeScalars.makeIterator()
        var previousWasCR = false
        while let c = scalars.next() {
            let v = c.value
            defer { previousWasCR = v == 0x0D }
            if v == 0x0D || (v == 0x0A && !previousWasCR) {
                pending.removeAll()
                newlines += 1
                continue
            }
            if v == 0x0A { continue }  // the \n of \r\n
            if v == 0x09 { pending.append(c); continue }
            if Self.isSpace(v) { pending.append(" "); continue }
            if Self.isRemoved(v) { continue }
            if newlines > 0, !out.isEmpty { out.append(contentsOf: (newlines > 1 ? "\n\n" : "\n").unicodeScalars) }
            newlines = 0
            out.append(contentsOf: pending)
            pending.removeAll()
            out.append(c)
        }
        return String(out)
    }
}
