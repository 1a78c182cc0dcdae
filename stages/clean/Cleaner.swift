import Dispatch
import LanguageIdentification

/// One document's way through `clean`: HTML to text, repair, then the filters in order (length,
/// language, and the web rules), then PII redaction of what is kept. Pure apart from the
/// per-worker scratch it is handed, so workers run it side by side.
struct Cleaner: Sendable {
    let html: HTMLText?
    let normalizer: TextNormalizer
    let redactor: PIIRedactor
    let minWords: Int
    let minChars: Int
    /// The longest run without white space a kept document may hold (0: no limit).
    let maxWordBytes: Int
    let language: LanguageRule?
    /// The web preset's filters in the order they run.
    let filters: [any QualityFilter]

    /// The language filter's settings: which languages pass and how sure CLD2 must be.
    struct LanguageRule: Sendable {
        var languages: Set<String>
        var minPercent: Int
        var keepUnknown: Bool
        let identifier = LanguageIdentifier()
    }

    /// What one document became.
    enum Outcome {
        case kept(text: [UInt8], language: LanguageIdentifier.Guess?)
        case rejected(filter: String, reason: String, language: LanguageIdentifier.Guess?)
    }

    /// Documents and bytes in and out of each filter, and the time spent in it.
    struct Counters {
        var filters: [String: FilterCount] = [:]
        var pii = PIIRedactor.Counts()
        var htmlConverted = 0

        mutating func merge(_ other: Counters) {
            for (name, c) in other.filters { filters[name, default: FilterCount()].add(c) }
            pii.emails += other.pii.emails
            pii.ips += other.pii.ips
            pii.phones += other.pii.phones
            htmlConverted += other.htmlConverted
        }
    }

    struct FilterCount {
        var documents = 0, bytes = 0, rejected = 0, rejectedBytes = 0
        var nanoseconds: UInt64 = 0
        mutating func add(_ o: FilterCount) {
            documents += o.documents; bytes += o.bytes; rejected += o.rejected; rejectedBytes += o.rejectedBytes
            nanoseconds += o.nanoseconds
        }
    }

    func clean(_ raw: String, isHTML: Bool, analysis: TextAnalysis, counters: inout Counters) -> Outcome {
        var source = raw
        if isHTML, let html {
            let started = DispatchTime.now().uptimeNanoseconds
            source = html.text(of: Array(raw.utf8)) ?? ""
            counters.htmlConverted += 1
            counters.filters["html", default: FilterCount()].nanoseconds += DispatchTime.now().uptimeNanoseconds - started
        }
        var text = Array(normalizer.normalize(source).utf8)
        if text.isEmpty { return .rejected(filter: "empty", reason: "no text after repair", language: nil) }
        var guess: LanguageIdentifier.Guess?

        func run(_ name: String, _ body: () -> FilterVerdict) -> FilterVerdict {
            let started = DispatchTime.now().uptimeNanoseconds
            let verdict = body()
            var count = counters.filters[name, default: FilterCount()]
            count.documents += 1
            count.bytes += text.count
            if case .drop = verdict { count.rejected += 1; count.rejectedBytes += text.count }
            count.nanoseconds += DispatchTime.now().uptimeNanoseconds - started
            counters.filters[name] = count
            return verdict
        }

        if case .drop(let reason) = run("length", { lengthVerdict(text) }) {
            return .rejected(filter: "length", reason: reason, language: nil)
        }
        if let language {
            let verdict = run("language") {
                let g = language.identifier.identify(text)
                guess = g
                return language.verdict(g)
            }
            if case .drop(let reason) = verdict { return .rejected(filter: "language", reason: reason, language: guess) }
        }
        analysis.reset(text)
        for filter in filters {
            switch run(filter.name, { filter.check(analysis) }) {
            case .keep: continue
            case .rewrite(let kept, let words):
                text = kept
                analysis.reset(kept, words: words)
            case .drop(let reason): return .rejected(filter: filter.name, reason: reason, language: guess)
            }
        }
        redactor.redact(&text, counts: &counters.pii)
        return .kept(text: text, language: guess)
    }

    private func lengthVerdict(_ text: [UInt8]) -> FilterVerdict {
        if minChars > 0 {
            let chars = text.withUnsafeBufferPointer { UnicodeClasses.count($0, 0..<$0.count) }
            if chars < minChars { return .drop("\(chars) characters < \(minChars)") }
        }
        let words = Self.words(text, atMost: minWords)
        if words < minWords { return .drop("\(words) words < \(minWords)") }
        if maxWordBytes > 0 {
            let longest = Self.longestWord(text)
            if longest > maxWordBytes { return .drop("a word of \(longest) bytes > \(maxWordBytes)") }
        }
        return .keep
    }

    /// The longest run of bytes without a space, tab or line break.
    static func longestWord(_ text: [UInt8]) -> Int {
        var longest = 0, run = 0
        for b in text {
            if b == 0x20 || b == 0x0A || b == 0x09 { run = 0 } else { run += 1; longest = max(longest, run) }
        }
        return longest
    }

    /// Whitespace-separated words, counting stops at `limit` (all the filter needs).
    static func words(_ text: [UInt8], atMost limit: Int) -> Int {
        var count = 0, inWord = false
        for b in text {
            let space = b == 0x20 || b == 0x0A || b == 0x09
            if !space, !inWord { count += 1; if count >= limit { return count } }
            inWord = !space
        }
        return count
    }
}

extension Cleaner.LanguageRule {
    func verdict(_ g: LanguageIdentifier.Guess) -> FilterVerdict {
        if g.code == "un" {
            return keepUnknown ? .keep : .drop("no language identified (too little or too mixed text)")
        }
        let code = g.code == "nb" ? "no" : g.code
        let wanted = languages.contains(code) || (code == "no" && languages.contains("nb"))
        if !wanted { return .drop("language \(g.code) (\(g.percent)%) is not one of \(languages.sorted().joined(separator: ", "))") }
        if g.percent < minPercent { return .drop("only \(g.percent)% of the text is \(g.code) < \(minPercent)%") }
        return .keep
    }
}
