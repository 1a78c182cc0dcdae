import CHTMLText

/// The readable text of an HTML page: libxml2 parses it (forgiving broken markup), and the walk
/// in `Sources/CHTMLText` drops scripts, styles, forms and navigation and turns blocks into line
/// breaks (see `html_text.h` for the rules).
struct HTMLText: Sendable {
    /// The text of `html` (UTF-8), or nil when libxml2 finds no document in it.
    func text(of html: [UInt8]) -> String? {
        var length = 0
        let text = html.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { pipe_html_to_text($0.baseAddress, $0.count, &length) }
        }
        guard let text else { return nil }
        defer { pipe_html_free(text) }
        return text.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
