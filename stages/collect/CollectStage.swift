import Foundation
import PipeKit

/// `collect`: gathers documents from local files (text, markdown, HTML, JSONL, delimited
/// records, WARC/WET; plain, `.gz` or `.zst`) and HTTP(S) URLs, with provenance on every
/// document. A URL's content is not part of the key: `pipe run --force` fetches again.
///
/// Order is deterministic: sources in manifest order, files by path, records in file order.
/// Every file read is declared as an external input, so editing one makes the stage stale.
public struct CollectStage: Stage {
    public struct Params: Parameters {
        @Param("where to read documents from") var sources: [Source]
        @Param("stop after this many documents", range: .positive) var max_documents: Int? = nil
        @Param("stop after this many bytes of text", range: .positive) var max_bytes: Int? = nil
        @Param("keep each document with this probability (seeded)", range: .leftOpen(0, 1)) var sample = 1.0
        @Param("seed of the sampling") var seed = 0
        @Param("repair: U+FFFD for bad bytes; latin-1: read the document as ISO-8859-1; skip: drop it")
        var invalid_utf8 = InvalidUTF8.repair
        @Param("skip whole-file documents and URL bodies larger than this", range: .positive) var max_file_bytes = 64 << 20
        @Param("the longest JSON line, delimited record or WARC record kept; longer ones are read past (see on_large_record)",
               range: .positive)
        var max_record_bytes = 16 << 20
        @Param("skip: count records over max_record_bytes and warn; fail: stop the run at the first") var on_large_record = OnProblem.skip
        @Param("a truncated or damaged .gz/.zst/WARC file: fail the run naming it, or skip the rest of it (counted, warned)")
        var on_corrupt = OnProblem.fail
        @Param("bytes per output shard", range: .positive) var shard_bytes = 64 << 20
        public init() {}
    }

    /// One place to read documents from.
    struct Source: Parameters {
        @Param("local files, or HTTP(S) URLs") var kind = Kind.files
        @Param("source name recorded on each document (default: the path)") var name = ""
        @Param("files: a file or folder (workspace-relative or absolute)") var path = ""
        @Param("globs under a folder (default: every file)") var include: [String] = []
        @Param("globs to leave out") var exclude: [String] = []
        @Param("auto: by extension (.txt .md .rst .html .htm .jsonl .json .warc .wet, then text)") var format = SourceFormat.auto
        @Param("jsonl: the field holding the text") var text_field = "text"
        @Param("jsonl: a field holding the document id") var id_field: String? = nil
        @Param("delimited: a line holding only this separates records") var delimiter = "%"
        @Param("licence tag recorded on each document") var license: String? = nil
        @Param("files: read symlinks leading outside the folder (by default they are skipped and counted)") var follow_symlinks = false
        @Param("urls: the URLs to fetch") var urls: [String] = []
        @Param("urls: a file with one URL per line (# comments)") var url_file: String? = nil
        @Param("urls: requests in flight", range: .positive) var concurrency = 8
        @Param("urls: seconds a request may go without receiving anything", range: .positive) var timeout = 30.0
        @Param("urls: seconds one URL may take in all, retries included; past it the URL is skipped", range: .positive)
        var deadline = 300.0
        @Param("urls: retries on network errors, 429 and 5xx, with backoff", range: .nonNegative) var retries = 2
        @Param("urls: requests per second to one host", range: .positive) var rate_limit = 2.0
        @Param("urls: the User-Agent (its first word is the robots.txt token)") var user_agent = "pipe-collect/0.1"
        @Param("urls: honour robots.txt") var robots = true

        /// Where the documents come from.
        enum Kind: String, ParamChoice { case files, urls }
    }

    /// How a file's documents are read.
    enum SourceFormat: String, ParamChoice { case auto, text, markdown, html, jsonl, delimited, warc }

    /// What to do with bytes that are not UTF-8.
    enum InvalidUTF8: String, ParamChoice {
        case repair, latin1 = "latin-1", skip
    }

    /// Whether a problem in the input stops the run or is skipped and counted.
    enum OnProblem: String, ParamChoice { case skip, fail }

    public static let name = "collect"
    public static let version = 2
    public static let summary = "Gather documents from files (text, markdown, html, jsonl, delimited, WARC/WET; .gz/.zst) and HTTP(S) URLs, with provenance."
    public static let inputs: [StagePort] = []
    public static let outputs = [StagePort("documents", .documents, doc: "part-NNNNN.jsonl with id, text, source, meta {path, offset, format, license, url}")]
    public static func externalInputs(_ p: Params) -> [ExternalInput] {
        p.sources.compactMap { s in
            s.kind == .files ? ExternalInput(path: s.path, include: s.include, exclude: s.exclude) : s.url_file.map { ExternalInput(path: $0) }
        }
    }

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.sources.isEmpty { problems.append(ParamProblem(["sources"], "name at least one source")) }
        for (i, s) in p.sources.enumerated() {
            if s.delimiter.contains("\n") || s.delimiter.isEmpty {
                problems.append(ParamProblem(["sources", "\(i)", "delimiter"], "must be a non-empty single line"))
            }
            if s.kind == .files && s.path.isEmpty {
                problems.append(ParamProblem(["sources", "\(i)"], "a files source needs a path"))
            }
            if s.kind == .urls && s.urls.isEmpty && s.url_file == nil {
                problems.append(ParamProblem(["sources", "\(i)"], "a urls source needs urls or url_file"))
            }
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        var collector = Collector(params: p, writer: DocumentsWriter(folder: try context.output("documents"), shardBytes: p.shard_bytes),
                                  context: context)
        for source in p.sources {
            if source.kind == .urls {
                try await collector.fetch(source)
            } else {
                try collector.collect(source)
            }
            if collector.limitReached { break }
        }
        try collector.finish()
    }
}
