import Foundation

/// Reference-based scores of generated text, computed as the field's reference packages do, so
/// figures compare: ROUGE-L as Google's `rouge-score` (no stemming) and corpus BLEU as
/// `sacrebleu` (13a tokenization, exponential smoothing).
enum TextScores {
    // MARK: ROUGE-L

    /// rouge-score's tokens: lowercase, runs of anything but [a-z0-9] become spaces.
    static func rougeTokens(_ text: String) -> [Substring] {
        let cleaned = String(text.lowercased().unicodeScalars.map { s -> Character in
            (s >= "a" && s <= "z") || (s >= "0" && s <= "9") ? Character(s) : " "
        })
        return cleaned.split(separator: " ")
    }

    /// ROUGE-L F1 of a prediction against its reference (0 when either has no tokens).
    static func rougeL(prediction: String, reference: String) -> Double {
        let p = rougeTokens(prediction), r = rougeTokens(reference)
        guard !p.isEmpty, !r.isEmpty else { return 0 }
        let lcs = Double(longestCommonSubsequence(p, r))
        let precision = lcs / Double(p.count), recall = lcs / Double(r.count)
        return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }

    static func longestCommonSubsequence(_ a: [Substring], _ b: [Substring]) -> Int {
        var previous = [Int](repeating: 0, count: b.count + 1), current = previous
        for x in a {
            for (j, y) in b.enumerated() {
                current[j + 1] = x == y ? previous[j] + 1 : max(previous[j + 1], current[j])
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    // MARK: BLEU

    /// sacrebleu's `13a` tokenizer (mteval-v13a): punctuation split off, periods and commas
    /// split unless between digits, a dash split after a digit.
    static func tokens13a(_ text: String) -> [String] {
        var line = text.replacingOccurrences(of: "<skipped>", with: "").replacingOccurrences(of: "-\n", with: "")
            .replacingOccurrences(of: "\n", with: " ")
        if line.contains("&") {
            line = line.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&amp;", with: "&")
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
        }
        var s = Array(" \(line) ".unicodeScalars)
        func isDigit(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "9" }
        func isPeriodOrComma(_ c: Unicode.Scalar) -> Bool { c == "." || c == "," }
        func isPunctuation(_ c: Unicode.Scalar) -> Bool {
            let v = c.value
            return (0x7B...0x7E).contains(v) || (0x5B...0x60).contains(v) || (0x20...0x26).contains(v)
                || (0x28...0x2B).contains(v) || (0x3A...0x40).contains(v) || v == 0x2F
        }
        s = s.flatMap { isPunctuation($0) ? [" ", $0, " "] : [$0] }
        s = replacePairs(s, { !isDigit($0) }, isPeriodOrComma) { [$0, " ", $1, " "] }
        s = replacePairs(s, isPeriodOrComma, { !isDigit($0) }) { [" ", $0, " ", $1] }
        s = replacePairs(s, isDigit, { $0 == "-" }) { [$0, " ", $1, " "] }
        return String(String.UnicodeScalarView(s)).split(whereSeparator: \.isWhitespace).map(String.init)
    }

    /// Left-to-right, non-overlapping replacement of two-character matches (as `re.sub` does).
    private static func replacePairs(_ s: [Unicode.Scalar], _ first: (Unicode.Scalar) -> Bool, _ second: (Unicode.Scalar) -> Bool,
                                     _ replacement: (Unicode.Scalar, Unicode.Scalar) -> [Unicode.Scalar]) -> [Unicode.Scalar]
    {
        var out: [Unicode.Scalar] = []
        var i = 0
        while i < s.count {
            if i + 1 < s.count, first(s[i]), second(s[i + 1]) {
                out += replacement(s[i], s[i + 1])
                i += 2
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// Corpus BLEU (0-100) of predictions against one reference each.
    static func bleu(predictions: [String], references: [String]) -> Double {
        let order = 4
        var correct = [Int](repeating: 0, count: order), total = correct
        var predictionLength = 0, referenceLength = 0
        for (prediction, reference) in zip(predictions, references) {
            let p = tokens13a(prediction), r = tokens13a(reference)
            predictionLength += p.count
            referenceLength += r.count
            for n in 1...order {
                let pc = ngrams(p, n), rc = ngrams(r, n)
                correct[n - 1] += pc.reduce(0) { $0 + min($1.value, rc[$1.key] ?? 0) }
                total[n - 1] += max(0, p.count - n + 1)
            }
        }
        var precisions = [Double](repeating: 0, count: order)
        var smooth = 1.0
        for n in 1...order {
            if total[n - 1] == 0 { break }
            if correct[n - 1] == 0 {
                smooth *= 2
                precisions[n - 1] = 100 / (smooth * Double(total[n - 1]))
            } else {
                precisions[n - 1] = 100 * Double(correct[n - 1]) / Double(total[n - 1])
            }
        }
        let brevity = predictionLength >= referenceLength ? 1.0
            : predictionLength > 0 ? exp(1 - Double(referenceLength) / Double(predictionLength)) : 0
        let logs = precisions.map { $0 > 0 ? log($0) : -9_999_999_999 }
        return brevity * exp(logs.reduce(0, +) / Double(order))
    }

    private static func ngrams(_ tokens: [String], _ n: Int) -> [ArraySlice<String>: Int] {
        var counts: [ArraySlice<String>: Int] = [:]
        if tokens.count >= n { for i in 0...(tokens.count - n) { counts[tokens[i..<i + n], default: 0] += 1 } }
        return counts
    }
}
