/// English abbreviations that keep their final period (`Mr.`, `e.g.`, `Jan.`, `5p.m.`): the
/// period does not end a sentence there.
enum Abbreviations {
    /// The abbreviations' bytes packed little-endian into one integer each (all are at most
    /// eight bytes and end in a period, so the packing is one-to-one on the candidates checked).
    private static let packed: Set<UInt64> = Set(words.map { pack(Array($0.utf8)[...]) })

    private static let words: Set<String> = {
        var set: Set<String> = [
            "Mr.", "Mrs.", "Ms.", "Dr.", "Prof.", "St.", "Mt.", "Jr.", "Inc.", "Ltd.", "Co.", "co.", "Corp.", "Bros.",
            "Gen.", "Gov.", "Rep.", "Sen.", "Rev.", "Adm.", "Messrs.", "Ph.D.", "vs.", "v.s.",
            "e.g.", "E.g.", "E.G.", "i.e.", "I.e.", "I.E.", "a.m.", "p.m.", "D.C.",
            "Jan.", "Feb.", "Mar.", "Apr.", "Jun.", "Jul.", "Aug.", "Sep.", "Sept.", "Oct.", "Nov.", "Dec.",
            "Ala.", "Ariz.", "Ark.", "Calif.", "Colo.", "Conn.", "Del.", "Fla.", "Ga.", "Ill.", "Ind.", "Kan.", "Kans.",
            "Ky.", "La.", "Mass.", "Md.", "Mich.", "Minn.", "Miss.", "Mo.", "Mont.", "Neb.", "Nebr.", "Nev.", "Okla.",
            "Ore.", "Pa.", "Tenn.", "Va.", "Wash.", "Wis.", "N.C.", "N.D.", "N.H.", "N.J.", "N.M.", "N.Y.", "S.C.",
            "ä.", "ö.", "ü.",
        ]
        for letter in "abcdefghijklmnopqrstuvwxyz" { set.insert("\(letter).") }
        for hour in 1...12 { set.insert("\(hour)a.m."); set.insert("\(hour)p.m.") }
        return set
    }()

    static func contains(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        guard r.count >= 2, r.count <= 8, s[r.upperBound - 1] == UInt8(ascii: ".") else { return false }
        return packed.contains(pack(s[r]))
    }

    @inline(__always)
    private static func pack<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var value: UInt64 = 0
        for (k, b) in bytes.enumerated() { value |= UInt64(b) << (8 * UInt64(k)) }
        return value
    }
}

/// English contractions that split in two: `don't` -> `do` `n't`, `I'll` -> `I` `'ll`,
/// `can't` -> `ca` `n't`.
enum Contractions {
    private static let verbs: Set<String> = ["do", "does", "did", "ca", "could", "should", "would", "wo", "is", "are", "was",
                                             "were", "has", "have", "had", "must", "might", "need", "ai", "sha", "may", "ought"]
    private static let pronouns: Set<String> = ["i", "you", "he", "she", "it", "we", "they", "who", "what", "where", "when",
                                                "why", "how", "there", "that", "this", "these", "those"]

    /// Where `r` splits, or nil when it is not a contraction.
    static func split(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int? {
        guard r.count >= 3, r.count <= 12, hasContractionTail(s, r) else { return nil }
        let word = String(decoding: UnsafeBufferPointer(rebasing: s[r]), as: UTF8.self).lowercased()
            .replacingOccurrences(of: "\u{2019}", with: "'")
        guard let apostrophe = word.firstIndex(of: "'") else { return nil }
        let tail = word[apostrophe...]
        if tail == "'t", word[..<apostrophe].hasSuffix("n") {
            let base = word[..<apostrophe].dropLast()
            guard verbs.contains(String(base)) else { return nil }
            return r.upperBound - byteLength(of: "n" + tail, in: s, r)
        }
        guard ["'ll", "'d", "'ve", "'re", "'m"].contains(String(tail)), pronouns.contains(String(word[..<apostrophe])) else { return nil }
        return r.upperBound - byteLength(of: String(tail), in: s, r)
    }

    /// Whether `r` ends like a contraction: `'` or `’` followed by `t`, `ll`, `d`, `ve`, `re` or
    /// `m` in either case. Everything else is rejected without building a string.
    @inline(__always)
    private static func hasContractionTail(_ s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Bool {
        func isApostrophe(endingAt i: Int) -> Bool {
            if i >= r.lowerBound, s[i] == UInt8(ascii: "'") { return true }
            return i - 2 >= r.lowerBound && s[i] == 0x99 && s[i - 1] == 0x80 && s[i - 2] == 0xE2
        }
        let end = r.upperBound
        let last = s[end - 1] | 0x20, secondLast = s[end - 2] | 0x20
        switch last {
        case UInt8(ascii: "t"), UInt8(ascii: "d"), UInt8(ascii: "m"):
            return isApostrophe(endingAt: end - 2)
        case UInt8(ascii: "l"):
            return secondLast == UInt8(ascii: "l") && isApostrophe(endingAt: end - 3)
        case UInt8(ascii: "e"):
            return (secondLast == UInt8(ascii: "v") || secondLast == UInt8(ascii: "r")) && isApostrophe(endingAt: end - 3)
        default:
            return false
        }
    }

    /// Bytes of the original spelling of an ASCII-folded tail (a curly apostrophe is 3 bytes).
    private static func byteLength(of tail: String, in s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int {
        let curly = UnsafeBufferPointer(rebasing: s[r]).contains(0xE2)
        return tail.utf8.count + (curly ? 2 : 0)
    }
}
