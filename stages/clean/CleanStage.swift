import Foundation
import PipeKit

/// `clean`: repairs and filters documents. This first part is the `minimal` preset's text
/// work: Unicode normalization, control characters and whitespace, a length filter, and PII
/// redaction; every rejected document goes to `rejects` with the filter and the reason, and
/// every step counts documents and bytes in and out.
public struct CleanStage: Stage {
    public struct Params: Decodable, Sendable {
        var preset: String
        var unicode: String
        var min_words: Int
        var min_chars: Int
        var pii: PII
    }

    struct PII: Decodable, Sendable {
        var emails: Bool
        var ips: Bool
        var phones: Bool
    }

    public static let name = "clean"
    public static let version = 1
    public static let summary = "Normalize Unicode and whitespace, drop too-short documents, redact e-mails, IPs and phone numbers; rejects kept with reasons."
    public static let inputs = [StagePort("documents", .documents)]
    public static let outputs = [
        StagePort("documents", .documents, doc: "the kept documents, repaired, in order"),
        StagePort("rejects", .documents, optional: true, doc: "dropped documents with meta.reject = {filter, reason}"),
        StagePort("stats", .metrics, doc: "metrics.json: documents and bytes in and out of each step, redactions"),
    ]
    public static let parameters = [
        ParamSpec("preset", .choice(["minimal"]), default: .string("minimal"),
                  doc: "minimal: Unicode, whitespace, length, PII (the web filters come with the web preset)"),
        ParamSpec("unicode", .choice(["nfc", "nfkc", "none"]), default: .string("nfc"), doc: "Unicode normalization form"),
        ParamSpec("min_words", .int, default: .int(5), doc: "drop documents with fewer whitespace-separated words"),
        ParamSpec("min_chars", .int, default: .int(0), doc: "drop documents with fewer characters (after repair)"),
        ParamSpec("pii", .object([
            ParamSpec("emails", .bool, default: .bool(true), doc: "e-mail addresses -> <EMAIL>"),
            ParamSpec("ips", .bool, default: .bool(true), doc: "IPv4 and IPv6 addresses -> <IP>"),
            ParamSpec("phones", .bool, default: .bool(true), doc: "phone numbers written with separators -> <PHONE>"),
        ]), default: .object([:]), doc: "which personal data to redact"),
    ]

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.min_words < 0 { problems.append(ParamProblem(["min_words"], "must not be negative")) }
        if p.min_chars < 0 { problems.append(ParamProblem(["min_chars"], "must not be negative")) }
        return problems
    }

    public init() {}

    /// What one document became.
    enum Outcome {
        case kept(String)
        case rejected(filter: String, reason: String)
    }

    /// The per-document work, pure and thread-safe.
    struct Cleaner: Sendable {
        let normalizer: TextNormalizer
        let redactor: PIIRedactor
        let minWords: Int
        let minChars: Int

        func clean(_ text: String, counts: inout PIIRedactor.Counts) -> Outcome {
            let repaired = normalizer.normalize(text)
            if repaired.isEmpty { return .rejected(filter: "empty", reason: "no text after repair") }
            if minChars > 0 {
                let chars = repaired.unicodeScalars.count
                if chars < minChars { return .rejected(filter: "length", reason: "\(chars) characters < \(minChars)") }
            }
            let words = Self.words(repaired, atMost: minWords)
            if words < minWords { return .rejected(filter: "length", reason: "\(words) words < \(minWords)") }
            return .kept(redactor.redact(repaired, counts: &counts))
        }

        /// Whitespace-separated words, counting stops at `limit` (all the filter needs).
        static func words(_ text: String, atMost limit: Int) -> Int {
            var count = 0, inWord = false
            for b in text.utf8 {
                let space = b == 0x20 || b == 0x0A || b == 0x09
                if !space, !inWord { count += 1; if count >= limit { return count } }
                inWord = !space
            }
            return count
        }
    }

    public func run(_ p: Params, _ context: StageContext) async throws {
        let input = try context.input("documents")
        let shards = input.files.map(\.path).filter { $0.hasPrefix("part-") && $0.hasSuffix(".jsonl") }.sorted()
        let cleaner = Cleaner(normalizer: TextNormalizer(form: TextNormalizer.Form(rawValue: p.unicode) ?? .nfc),
                              redactor: PIIRedactor(emails: p.pii.emails, ips: p.pii.ips, phones: p.pii.phones),
                              minWords: p.min_words, minChars: p.min_chars)
        let kept = DocumentsWriter(folder: try context.output("documents"))
        let rejects = DocumentsWriter(folder: try context.output("rejects"))
        var stats: [String: Double] = [:]
        var redactions = PIIRedactor.Counts()
        var documentsIn = 0, bytesIn = 0
        let started = Date()
        for (n, shard) in shards.enumerated() {
            try context.checkCancellation()
            let data = try input.read(shard)
            let lines = DocumentLines(data)
            bytesIn += data.count
            let parts = lines.partitions(context.threads)
            let results = try Parallel.map(parts.count) { k -> ([(Document, Outcome)], PIIRedactor.Counts) in
                var local = PIIRedactor.Counts(), out: [(Document, Outcome)] = []
                for i in parts[k] {
                    let document = try lines.withLine(i) { line -> Document in
                        do {
                            return try JSONDecoder().decode(Document.self, from: Data(buffer: line))
                        } catch {
                            throw StageError("documents/\(shard):\(i + 1): not a document (\(error))")
                        }
                    }
                    out.append((document, cleaner.clean(document.text, counts: &local)))
                }
                return (out, local)
            }
            for (outcomes, counts) in results {
                redactions.emails += counts.emails
                redactions.ips += counts.ips
                redactions.phones += counts.phones
                for (document, outcome) in outcomes {
                    documentsIn += 1
                    switch outcome {
                    case .kept(let text):
                        var repaired = document
                        repaired.text = text
                        try kept.write(repaired)
                    case .rejected(let filter, let reason):
                        var rejected = document
                        var meta: [String: JSONValue] = [:]
                        if case .object(let existing)? = document.meta { meta = existing }
                        meta["reject"] = .object(["filter": .string(filter), "reason": .string(reason)])
                        rejected.meta = .object(meta)
                        try rejects.write(rejected)
                        stats["clean.\(filter).rejected", default: 0] += 1
                        stats["clean.\(filter).rejected_bytes", default: 0] += Double(document.text.utf8.count)
                    }
                }
            }
            let rate = Double(bytesIn) / 1e6 / max(Date().timeIntervalSince(started), 1e-9)
            context.progress(Double(n + 1) / Double(shards.count), String(format: "shard %d/%d, %.1f MB/s", n + 1, shards.count, rate))
        }
        try kept.close()
        try rejects.close()
        stats["documents.in"] = Double(documentsIn)
        stats["documents.out"] = Double(kept.count)
        stats["bytes.out"] = Double(kept.textBytes)
        stats["clean.pii.emails"] = Double(redactions.emails)
        stats["clean.pii.ips"] = Double(redactions.ips)
        stats["clean.pii.phones"] = Double(redactions.phones)
        stats["clean.mb_per_second"] = Double(bytesIn) / 1e6 / max(Date().timeIntervalSince(started), 1e-9)
        for (k, v) in stats.sorted(by: { $0.key < $1.key }) { context.metric(k, v) }
        try JSONValue.object(stats.mapValues(JSONValue.double)).write(to: try context.output("stats").appendingPathComponent("metrics.json"))
        context.log("kept \(kept.count) of \(documentsIn) documents; redacted \(redactions.emails) e-mails, \(redactions.ips) IPs, \(redactions.phones) phone numbers")
    }
}
