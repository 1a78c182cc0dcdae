/// English abbreviations that keep their final period (`Mr.`, `e.g.`, `Jan.`, `5p.m.`): the
/// period does not end a sentence there.
enum Abbreviations {
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
        return words.contains(String(decoding: UnsafeBufferPointer(rebasing: s[r]), as: UTF8.self))
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
        guard r.count >= 3, r.count <= 12, r.contains(where: { s[$0] == UInt8(ascii: "'") || s[$0] == 0xE2 }) else { return nil }
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

    /// Bytes of the original spelling of an ASCII-folded tail (a curly apostrophe is 3 bytes).
    private static func byteLength(of tail: String, in s: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int {
        let curly = UnsafeBufferPointer(rebasing: s[r]).contains(0xE2)
        return tail.utf8.count + (curly ? 2 : 0)
    }
}
