import Foundation
import PipeKit
import LanguageIdentification

/// `clean`: turns HTML into text, repairs Unicode and white space, filters documents, and
/// redacts personal data. Presets choose the filters: `minimal` (length with a longest-word cap,
/// language) for any
/// corpus, `web` adds Gopher repetition, Gopher quality, C4 and FineWeb with datatrove's
/// thresholds; `filters`/`skip` change the set and each filter has its own settings. Every
/// rejected document goes to `rejects` with the filter and the reason; `stats` counts documents
/// and bytes per filter, and the run metrics add rates and time per filter.
public struct CleanStage: Stage {
    public struct Params: Parameters {
        @Param("minimal: length and language filters (any corpus, code and docs included); web: adds Gopher repetition, Gopher quality, C4 and FineWeb")
        var preset = Preset.minimal
        @Param("run exactly these filters instead of the preset's") var filters: [FilterName] = []
        @Param("filters of the preset not to run") var skip: [FilterName] = []
        @Param("HTML to text: auto for documents with meta.format html (as collect marks them)") var html = HTMLMode.auto
        @Param("Unicode normalization form") var unicode = TextNormalizer.Form.nfc
        @Param("length filter: fewest whitespace-separated words", range: .nonNegative) var min_words = 5
        @Param("length filter: fewest characters (after repair)", range: .nonNegative) var min_chars = 0
        @Param("length filter: longest run without white space, in bytes (0: no limit); megabyte runs (base64, minified code) are not text and are one BPE pre-token each",
               range: .nonNegative)
        var max_word_bytes = 10_000
        @Param("language identification (CLD2)") var language = LanguageSettings()
        @Param("which personal data to redact") var pii = PII()
        @Param("Gopher quality rules") var gopher_quality = GopherQualityFilter.Settings()
        @Param("Gopher repetition rules") var gopher_repetition = GopherRepetitionFilter.Settings()
        @Param("C4 rules (they also rewrite the text to the kept lines)") var c4 = C4QualityFilter.Settings()
        @Param("FineWeb rules") var fineweb = FineWebQualityFilter.Settings()
        public init() {}
    }

    /// Which personal data to redact.
    struct PII: Parameters {
        @Param("e-mail addresses -> <EMAIL>") var emails = true
        @Param("IPv4 and IPv6 addresses -> <IP>") var ips = true
        @Param("phone numbers written with separators -> <PHONE>") var phones = true
    }

    /// The language filter's settings.
    struct LanguageSettings: Parameters {
        @Param("ISO 639-1 codes to keep when no `languages` input is wired (the objective's languages win)") var languages: [String] = []
        @Param("smallest share of the text (percent) in a kept language", range: .closed(0, 100)) var min_percent = 50
        @Param("keep texts too short or too mixed for CLD2 to name a language") var keep_unknown = false
    }

    /// A filter set to start from.
    enum Preset: String, ParamChoice { case minimal, web }

    /// When to turn HTML into text.
    enum HTMLMode: String, ParamChoice { case auto, always, never }

    /// The filters, in the order they run.
    enum FilterName: String, ParamChoice {
        case length, language, gopher_repetition, gopher_quality, c4, fineweb
    }

    static let presets: [Preset: [FilterName]] = [.minimal: [.length, .language], .web: FilterName.allCases]

    public static let name = "clean"
    public static let version = 4
    public static let summary = "HTML to text, Unicode and white-space repair, length/language/Gopher/C4/FineWeb filters, PII redaction; rejects kept with reasons."
    public static let inputs = [
        StagePort("documents", .documents),
        StagePort("languages", .languages, optional: true, doc: "the objective's languages, which the language filter keeps"),
    ]
    public static let outputs = [
        StagePort("documents", .documents, doc: "the kept documents, repaired, in order; meta.language when identified"),
        StagePort("rejects", .documents, optional: true, doc: "dropped documents with meta.reject = {filter, reason}"),
        StagePort("stats", .metrics, doc: "metrics.json: documents and bytes in and out, per filter, redactions (rates and timings are run metrics)"),
    ]
    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        for (field, map) in [("top_n_grams", p.gopher_repetition.top_n_grams), ("dup_n_grams", p.gopher_repetition.dup_n_grams)] {
            for key in map.keys where Int(key).map({ $0 < 1 || $0 > 16 }) ?? true {
                problems.append(ParamProblem(["gopher_repetition", field, key], "n-gram sizes are whole numbers from 1 to 16"))
            }
        }
        return problems
    }

    public init() {}

    /// The filters this configuration runs, in order.
    static func activeFilters(_ p: Params) -> [FilterName] {
        let chosen = p.filters.isEmpty ? presets[p.preset] ?? [] : p.filters
        return FilterName.allCases.filter { chosen.contains($0) && !p.skip.contains($0) }
    }

    /// The per-document work for these parameters and languages.
    static func cleaner(_ p: Params, languages: [String]) -> Cleaner {
        let active = activeFilters(p)
        var filters: [any QualityFilter] = []
        for name in active {
            switch name {
            case .gopher_repetition: filters.append(GopherRepetitionFilter(settings: p.gopher_repetition))
            case .gopher_quality: filters.append(GopherQualityFilter(settings: p.gopher_quality))
            case .c4: filters.append(C4QualityFilter(settings: p.c4))
            case .fineweb: filters.append(FineWebQualityFilter(settings: p.fineweb))
            case .length, .language: break
            }
        }
        let language = active.contains(.language) && !languages.isEmpty
            ? Cleaner.LanguageRule(languages: Set(languages), minPercent: p.language.min_percent, keepUnknown: p.language.keep_unknown)
            : nil
        return Cleaner(html: p.html == .never ? nil : HTMLText(),
                       normalizer: TextNormalizer(form: p.unicode),
                       redactor: PIIRedactor(emails: p.pii.emails, ips: p.pii.ips, phones: p.pii.phones),
                       minWords: active.contains(.length) ? p.min_words : 0,
                       minChars: active.contains(.length) ? p.min_chars : 0,
                       maxWordBytes: active.contains(.length) ? p.max_word_bytes : 0,
                       language: language, filters: filters)
    }

    /// The languages.json an objective writes.
    private struct Languages: Decodable { var languages: [String] }

    public func run(_ p: Params, _ context: StageContext) async throws {
        try await clean(p, parts: try ShardSpec.documentShardNames(context), context)
    }

    /// Cleans the given input shards into the context's outputs: kept documents and rejects in
    /// order, counts into `stats` (metrics.json, counts only, so equal inputs give an equal
    /// artifact), and rates and timings as run metrics.
    func clean(_ p: Params, parts shards: [String], _ context: StageContext) async throws {
        let input = try context.input("documents")
        var languages = p.language.languages
        if let wired = context.optionalInput("languages") {
            languages = try JSONDecoder().decode(Languages.self, from: wired.read("languages.json")).languages
        }
        let cleaner = Self.cleaner(p, languages: languages)
        let active = Self.activeFilters(p)
        if active.contains(.language), languages.isEmpty {
            context.log("language filter: no languages given (wire the objective's `languages` or set language.languages); not filtering by language")
        }
        context.log("filters: \(active.map(\.rawValue).joined(separator: ", "))")
        let kept = DocumentsWriter(folder: try context.output("documents"))
        let rejects = DocumentsWriter(folder: try context.output("rejects"))
        var counters = Cleaner.Counters()
        var tally = Tally()
        let started = Date()
        let analyses = (0..<context.threads).map { _ in TextAnalysis() }
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let data = try input.read(shard)
            let lines = DocumentLines(data)
            tally.counts["bytes.in", default: 0] += Double(data.count)
            let parts = lines.partitions(context.threads)
            let results = try Parallel.map(parts.count) { k -> ([(Document, Cleaner.Outcome)], Cleaner.Counters) in
                var local = Cleaner.Counters(), out: [(Document, Cleaner.Outcome)] = []
                for i in parts[k] {
                    let document = try lines.withLine(i) { line -> Document in
                        do {
                            return try JSONDecoder().decode(Document.self, from: Data(buffer: line))
                        } catch {
                            throw StageError("documents/\(shard):\(i + 1): not a document (\(error))")
                        }
                    }
                    let isHTML = p.html == .always || p.html == .auto && document.meta?["format"]?.stringValue == "html"
                    out.append((document, cleaner.clean(document.text, isHTML: isHTML, analysis: analyses[k], counters: &local)))
                }
                return (out, local)
            }
            for (outcomes, local) in results {
                counters.merge(local)
                for (document, outcome) in outcomes {
                    tally.counts["documents.in", default: 0] += 1
                    switch outcome {
                    case .kept(let text, let language):
                        try text.withUnsafeBufferPointer {
                            try kept.write(id: document.id, text: $0, source: document.source,
                                           meta: Self.meta(document.meta, language: language).map(JSONValue.object) ?? document.meta)
                        }
                    case .rejected(let filter, let reason, let language):
                        var meta = Self.meta(document.meta, language: language) ?? [:]
                        meta["reject"] = .object(["filter": .string(filter), "reason": .string(reason)])
                        var rejected = document
                        rejected.meta = .object(meta)
                        try rejects.write(rejected)
                        tally.counts["clean.\(filter).rejected", default: 0] += 1
                        tally.counts["clean.\(filter).rejected_bytes", default: 0] += Double(document.text.utf8.count)
                    }
                }
            }
            let rate = tally.counts["bytes.in", default: 0] / 1e6 / max(Date().timeIntervalSince(started), 1e-9)
            context.progress(Double(n + 1) / Double(shards.count), String(format: "shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        try kept.close()
        try rejects.close()
        tally.counts["documents.out"] = Double(kept.count)
        tally.counts["bytes.out"] = Double(kept.textBytes)
        tally.add(counters)
        try tally.write(to: context)
        let seconds = max(Date().timeIntervalSince(started), 1e-9)
        context.metric("clean.mb_per_second", tally.counts["bytes.in", default: 0] / 1e6 / seconds)
        for (filter, c) in counters.filters.sorted(by: { $0.key < $1.key }) {
            context.metric("clean.\(filter).seconds", Double(c.nanoseconds) / 1e9)
            if c.documents > 0 { context.metric("clean.\(filter).mb_per_second", Double(c.bytes) / 1e6 / max(Double(c.nanoseconds) / 1e9, 1e-9)) }
        }
        let reasons = active.compactMap { f in tally.counts["clean.\(f).rejected"].map { "\(f) \(Int($0))" } }.joined(separator: ", ")
        context.log("kept \(kept.count) of \(Int(tally.counts["documents.in", default: 0])) documents (rejected: \(reasons.isEmpty ? "none" : reasons)); redacted \(counters.pii.emails) e-mails, \(counters.pii.ips) IPs, \(counters.pii.phones) phone numbers")
    }

    /// The counts `stats` holds: documents and bytes in and out, per filter, redactions. They
    /// add up across pieces, which is how a sharded run's merge rebuilds them.
    struct Tally {
        var counts: [String: Double] = [:]

        mutating func add(_ c: Cleaner.Counters) {
            counts["clean.html.converted", default: 0] += Double(c.htmlConverted)
            counts["clean.pii.emails", default: 0] += Double(c.pii.emails)
            counts["clean.pii.ips", default: 0] += Double(c.pii.ips)
            counts["clean.pii.phones", default: 0] += Double(c.pii.phones)
            for (filter, f) in c.filters where f.documents > 0 {
                counts["clean.\(filter).documents_in", default: 0] += Double(f.documents)
                counts["clean.\(filter).bytes_in", default: 0] += Double(f.bytes)
            }
        }

        mutating func add(_ other: Tally) {
            for (k, v) in other.counts { counts[k, default: 0] += v }
        }

        /// Writes stats/metrics.json and reports each count as a metric.
        func write(to context: StageContext) throws {
            for (k, v) in counts.sorted(by: { $0.key < $1.key }) { context.metric(k, v) }
            try JSONValue.object(counts.mapValues(JSONValue.double)).write(to: try context.output("stats").appendingPathComponent("metrics.json"))
        }

        static func read(_ folder: URL) throws -> Tally {
            let data = try Data(contentsOf: folder.appendingPathComponent("metrics.json"))
            return Tally(counts: try JSONDecoder().decode([String: Double].self, from: data))
        }
    }

    /// The document's meta with the identified language added (nil when there is nothing to add).
    private static func meta(_ meta: JSONValue?, language: LanguageIdentifier.Guess?) -> [String: JSONValue]? {
        var out: [String: JSONValue] = [:]
        if case .object(let existing)? = meta { out = existing }
        guard let language else { return out }
        out["language"] = .string(language.code)
        out["language_percent"] = .int(Int64(language.percent))
        return out
    }
}
