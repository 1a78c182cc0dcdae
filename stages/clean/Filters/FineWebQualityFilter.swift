/// FineWeb's own rules (Penedo et al. 2024; as datatrove's `FineWebQualityFilter`): enough
import PipeKit
/// lines ending in terminal punctuation, not too many short lines, few characters in repeated
/// lines, and not a list (line breaks per word).
struct FineWebQualityFilter: QualityFilter {
    /// Its thresholds, with datatrove's defaults (those the published datasets used).
    struct Settings: Parameters {
        @Param("smallest share of lines ending in terminal punctuation") var line_punct_thr: Double = 0.12
        @Param("keep pages where no line ends in punctuation") var line_punct_exclude_zero: Bool = false
        @Param("largest share of short lines") var short_line_thr: Double = 0.67
        @Param("a short line has at most this many characters") var short_line_length: Int = 30
        @Param("largest share of characters in repeated lines") var char_duplicates_ratio: Double = 0.01
        @Param("most line breaks per word") var new_line_ratio: Double = 0.3
        init() {}
    }

    let settings: Settings
    var name: String { "fineweb" }

    func check(_ text: TextAnalysis) -> FilterVerdict {
        let p = settings
        var lines: [Range<Int>] = []
        var newlines = 0
        text.withBytes { s in
            var start = 0
            for i in 0...s.count where i == s.count || s[i] == 0x0A {
                if i < s.count { newlines += 1 }
                let line = start..<i
                if !text.stripped(line).isEmpty { lines.append(line) }
                start = i + 1
            }
        }
        guard !lines.isEmpty else { return .drop("empty") }
        let count = Double(lines.count)
        var punctuated = 0, short = 0
        text.withBytes { s in
            for line in lines {
                let last = UnicodeClasses.scalar(s, UnicodeClasses.previousStart(s, before: line.upperBound)).0
                if UnicodeClasses.isSentenceTerminal(last) { punctuated += 1 }
                if line.count <= p.short_line_length || UnicodeClasses.count(s, line) <= p.short_line_length { short += 1 }
            }
        }
        let punctRatio = Double(punctuated) / count
        if punctRatio < p.line_punct_thr, !(punctRatio == 0 && p.line_punct_exclude_zero) {
            return .drop("line_punct_ratio: \(rounded(punctRatio)) of lines end in punctuation < \(p.line_punct_thr)")
        }
        let shortRatio = Double(short) / count
        if shortRatio > p.short_line_thr {
            return .drop("short_line_ratio: \(rounded(shortRatio)) of lines have <= \(p.short_line_length) characters > \(p.short_line_thr)")
        }
        var repeated = 0
        text.withBytes { s in
            text.table.counting(atMost: lines.count) { table in
                for line in lines where table.add(ByteHash.hash(s, line)).before > 0 { repeated += UnicodeClasses.count(s, line) }
            }
        }
        let duplicateRatio = Double(repeated) / Double(max(1, text.characters - newlines))
        if duplicateRatio > p.char_duplicates_ratio {
            return .drop("char_dup_ratio: \(rounded(duplicateRatio)) of characters in repeated lines > \(p.char_duplicates_ratio)")
        }
        let words = text.words.count
        let listRatio = words == 0 ? Double.infinity : Double(newlines) / Double(words)
        if listRatio > p.new_line_ratio {
            return .drop("list_ratio: \(rounded(listRatio)) line breaks per word > \(p.new_line_ratio)")
        }
        return .keep
    }
}
