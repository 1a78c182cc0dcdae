import Foundation
import PipeKit

/// `collect`: gathers documents from local files (text, markdown, HTML, JSONL, delimited
/// records, WARC/WET; plain, `.gz` or `.zst`) and HTTP(S) URLs, with provenance on every
/// document. A URL's content is not part of the key: `pipe run --force` fetches again.
///
/// Order is deterministic: sources in manifest order, files by path, records in file order.
/// Every file read is declared as an external input, so editing one makes the stage stale.
public struct CollectStage: Stage {
    public struct Params: Decodable, Sendable {
        var sources: [Source]
        var max_documents: Int?
        var max_bytes: Int?
        var sample: Double
        var seed: Int
        var invalid_utf8: String
        var max_file_bytes: Int
        var max_record_bytes: Int
        var on_large_record: String
        var on_corrupt: String
        var shard_bytes: Int
    }

    struct Source: Decodable, Sendable {
        var kind: String
        var name: String
        var path: String
        var include: [String]
        var exclude: [String]
        var format: String
        var text_field: String
        var id_field: String?
        var delimiter: String
        var license: String?
        var follow_symlinks: Bool
        var urls: [String]
        var url_file: String?
        var concurrency: Int
        var timeout: Double
        var deadline: Double
        var retries: Int
        var rate_limit: Double
        var user_agent: String
        var robots: Bool
    }

    public static let name = "collect"
    public static let version = 2
    public static let summary = "Gather documents from files (text, markdown, html, jsonl, delimited, WARC/WET; .gz/.zst) and HTTP(S) URLs, with provenance."
    public static let inputs: [StagePort] = []
    public static let outputs = [StagePort("documents", .documents, doc: "part-NNNNN.jsonl with id, text, source, meta {path, offset, format, license, url}")]
    public static let parameters = [
        ParamSpec("sources", .list(.object([
            ParamSpec("kind", .choice(["files", "urls"]), default: .string("files"), doc: "local files, or HTTP(S) URLs"),
            ParamSpec("name", .string, default: .string(""), doc: "source name recorded on each document (default: the path)"),
            ParamSpec("path", .string, default: .string(""), doc: "files: a file or folder (workspace-relative or absolute)"),
            ParamSpec("include", .list(.string), default: .array([]), doc: "globs under a folder (default: every file)"),
            ParamSpec("exclude", .list(.string), default: .array([]), doc: "globs to leave out"),
            ParamSpec("format", .choice(["auto", "text", "markdown", "html", "jsonl", "delimited", "warc"]), default: .string("auto"),
                      doc: "auto: by extension (.txt .md .rst .html .htm .jsonl .json .warc .wet, then text)"),
            ParamSpec("text_field", .string, default: .string("text"), doc: "jsonl: the field holding the text"),
            ParamSpec("id_field", .string, default: .null, doc: "jsonl: a field holding the document id"),
            ParamSpec("delimiter", .string, default: .string("%"), doc: "delimited: a line holding only this separates records"),
            ParamSpec("license", .string, default: .null, doc: "licence tag recorded on each document"),
            ParamSpec("follow_symlinks", .bool, default: .bool(false),
                      doc: "files: read symlinks leading outside the folder (by default they are skipped and counted)"),
            ParamSpec("urls", .list(.string), default: .array([]), doc: "urls: the URLs to fetch"),
            ParamSpec("url_file", .string, default: .null, doc: "urls: a file with one URL per line (# comments)"),
            ParamSpec("concurrency", .int, default: .int(8), doc: "urls: requests in flight"),
            ParamSpec("timeout", .float, default: .double(30), doc: "urls: seconds a request may go without receiving anything"),
            ParamSpec("deadline", .float, default: .double(300),
                      doc: "urls: seconds one URL may take in all, retries included; past it the URL is skipped"),
            ParamSpec("retries", .int, default: .int(2), doc: "urls: retries on network errors, 429 and 5xx, with backoff"),
            ParamSpec("rate_limit", .float, default: .double(2), doc: "urls: requests per second to one host"),
            ParamSpec("user_agent", .string, default: .string("pipe-collect/0.1"), doc: "urls: the User-Agent (its first word is the robots.txt token)"),
            ParamSpec("robots", .bool, default: .bool(true), doc: "urls: honour robots.txt"),
        ])), doc: "where to read documents from"),
        ParamSpec("max_documents", .int, default: .null, doc: "stop after this many documents"),
        ParamSpec("max_bytes", .int, default: .null, doc: "stop after this many bytes of text"),
        ParamSpec("sample", .float, default: .double(1), doc: "keep each document with this probability (seeded)"),
        ParamSpec("seed", .int, default: .int(0), doc: "seed of the sampling"),
        ParamSpec("invalid_utf8", .choice(["repair", "latin-1", "skip"]), default: .string("repair"),
                  doc: "repair: U+FFFD for bad bytes; latin-1: read the document as ISO-8859-1; skip: drop it"),
        ParamSpec("max_file_bytes", .int, default: .int(64 << 20), doc: "skip whole-file documents and URL bodies larger than this"),
        ParamSpec("max_record_bytes", .int, default: .int(16 << 20),
                  doc: "the longest JSON line, delimited record or WARC record kept; longer ones are read past (see on_large_record)"),
        ParamSpec("on_large_record", .choice(["skip", "fail"]), default: .string("skip"),
                  doc: "skip: count records over max_record_bytes and warn; fail: stop the run at the first"),
        ParamSpec("on_corrupt", .choice(["fail", "skip"]), default: .string("fail"),
                  doc: "a truncated or damaged .gz/.zst/WARC file: fail the run naming it, or skip the rest of it (counted, warned)"),
        ParamSpec("shard_bytes", .int, default: .int(64 << 20), doc: "bytes per output shard"),
    ]

    public static func externalInputs(_ p: Params) -> [ExternalInput] {
        p.sources.compactMap { s in
            s.kind == "files" ? ExternalInput(path: s.path, include: s.include, exclude: s.exclude) : s.url_file.map { ExternalInput(path: $0) }
        }
    }

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.sources.isEmpty { problems.append(ParamProblem(["sources"], "name at least one source")) }
        if !(p.sample > 0 && p.sample <= 1) { problems.append(ParamProblem(["sample"], "must be in (0, 1]")) }
        for (i, s) in p.sources.enumerated() {
            if s.delimiter.contains("\n") || s.delimiter.isEmpty {
                problems.append(ParamProblem(["sources", "\(i)", "delimiter"], "must be a non-empty single line"))
            }
            if s.kind == "files" && s.path.isEmpty {
                problems.append(ParamProblem(["sources", "\(i)"], "a files source needs a path"))
            }
            if s.kind == "urls" && s.urls.isEmpty && s.url_file == nil {
                problems.append(ParamProblem(["sources", "\(i)"], "a urls source needs urls or url_file"))
            }
            if s.kind == "urls" && (s.concurrency < 1 || s.rate_limit <= 0 || s.timeout <= 0 || s.deadline <= 0 || s.retries < 0) {
                problems.append(ParamProblem(["sources", "\(i)"], "concurrency, rate_limit, timeout and deadline must be positive, retries not negative"))
            }
        }
        if let m = p.max_documents, m <= 0 { problems.append(ParamProblem(["max_documents"], "must be positive")) }
        if let m = p.max_bytes, m <= 0 { problems.append(ParamProblem(["max_bytes"], "must be positive")) }
        if p.max_record_bytes <= 0 { problems.append(ParamProblem(["max_record_bytes"], "must be positive")) }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        var collector = Collector(params: p, writer: DocumentsWriter(folder: try context.output("documents"), shardBytes: p.shard_bytes),
                                  context: context)
        for source in p.sources {
            if source.kind == "urls" {
                try await collector.fetch(source)
            } else {
                try collector.collect(source)
            }
            if collector.limitReached { break }
        }
        try collector.finish()
    }
}
