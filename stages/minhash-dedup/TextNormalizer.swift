import Foundation

/// Normalizes text before shingling, as datatrove's `simplify_text` does with its defaults:
/// lowercase, numbers (`12.5`) to `0`, punctuation removed, diacritics removed, white space
/// runs to one space. Works on UTF-8 bytes with an ASCII fast path.
struct TextNormalizer {
    /// Writes the normalized text of `input` into `out` (cleared first).
    static func normalize(_ input: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        if input.contains(where: { $0 >= 0x80 }) {
            normalizeUnicode(String(decoding: input, as: UTF8.self), into: &out)
            return
        }
        let punctuation = asciiPunctuation
        var pendingSpace = false
        var i = 0
        let n = input.count
        while i < n {
            let c = input[i]
            if c >= 0x30 && c <= 0x39 {
                // \d+(\.\d+)? -> 0
                while i < n, input[i] >= 0x30 && input[i] <= 0x39 { i += 1 }
                if i + 1 < n, input[i] == 0x2E, input[i + 1] >= 0x30 && input[i + 1] <= 0x39 {
                    i += 1
                    while i < n, input[i] >= 0x30 && input[i] <= 0x39 { i += 1 }
                }
                if pendingSpace && !out.isEmpty { out.append(0x20) }
                pendingSpace = false
                out.append(0x30)
                continue
            }
            i += 1
            if c == 0x20 || (c >= 0x09 && c <= 0x0D) {
                pendingSpace = true
            } else if punctuation[Int(c)] {
                continue
            } else {
                if pendingSpace && !out.isEmpty { out.append(0x20) }
                pendingSpace = false
                out.append(c >= 0x41 && c <= 0x5A ? c + 0x20 : c)
            }
        }
    }

    private static let asciiPunctuation: [Bool] = (0..<128).map { b in
        guard let s = Unicode.Scalar(UInt32(b)) else { return false }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    /// The general path: NFD, drop combining marks and punctuation, lowercase, numbers, spaces.
    private static func normalizeUnicode(_ text: String, into out: inout [UInt8]) {
        let decomposed = text.lowercased().decomposedStringWithCanonicalMapping
        var pendingSpace = false
        var inNumber = false
        var afterDot = false
        for scalar in decomposed.unicodeScalars {
            let p = scalar.properties
            if p.numericType == .decimal {
                if !inNumber {
                    if pendingSpace && !out.isEmpty { out.append(0x20) }
                    pendingSpace = false
                    out.append(0x30)
                }
                inNumber = true
                afterDot = false
                continue
            }
            if scalar == "." && inNumber && !afterDot {
                afterDot = true
                continue
            }
            if afterDot { inNumber = false; afterDot = false }  // a dot not followed by digits: punctuation
            inNumber = false
            if p.isWhitespace { pendingSpace = true; continue }
            switch p.generalCategory {
            case .nonspacingMark, .enclosingMark, .spacingMark: continue
            case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                 .initialPunctuation, .finalPunctuation, .otherPunctuation: continue
            default:
                if pendingSpace && !out.isEmpty { out.append(0x20) }
                pendingSpace = false
                out.append(contentsOf: String(scalar).utf8)
            }
        }
    }
}
