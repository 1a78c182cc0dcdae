/// GPT-2's byte-level alphabet: every byte maps to one printable Unicode character, so any
/// byte string is a string of vocabulary characters (`Ġ` is the space byte).
package enum ByteLevel {
    /// Byte -> the character standing for it.
    package static let characters: [Character] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var codes = printable
        var extra = 0
        for b in 0..<256 where !printable.contains(b) {
            printable.append(b)
            codes.append(256 + extra)
            extra += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, code) in zip(printable, codes) { table[b] = Character(Unicode.Scalar(UInt32(code))!) }
        return table
    }()

    /// Character -> byte, for characters of the alphabet.
    package static let bytes: [Character: UInt8] = {
        var map: [Character: UInt8] = [:]
        for (b, ch) in characters.enumerated() { map[ch] = UInt8(b) }
        return map
    }()

    /// The vocabulary string of a byte sequence.
    package static func encode(_ bytes: some Sequence<UInt8>) -> String {
        String(bytes.map { characters[Int($0)] })
    }

    /// The bytes of a vocabulary string, or nil if it has characters outside the alphabet.
    package static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        for ch in text {
            guard let b = bytes[ch] else { return nil }
            out.append(b)
        }
        return out
    }

    /// The 256 byte values in the order Hugging Face assigns their ids: by the code point of
    /// the character that stands for them.
    package static let byteOrder: [UInt8] = (0..<256).map { UInt8($0) }
        .sorted { characters[Int($0)].unicodeScalars.first!.value < characters[Int($1)].unicodeScalars.first!.value }
}
