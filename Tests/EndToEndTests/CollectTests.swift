import Foundation
import XCTest

/// The collect stage on every local format, compressed or not, with provenance and policies.
final class CollectTests: XCTestCase {
    var ws: Workspace!

    override func setUpWithError() throws { ws = try Workspace() }
    override func tearDown() { ws.remove() }

    func shell(_ command: String) throws {
        let result = try Workspace.execute("/bin/sh", ["-e", "-c", command], in: ws.root)
        XCTAssertEqual(result.status, 0, result.output)
    }

    /// A WARC record with CRLF line ends.
    func warcRecord(type: String, uri: String, contentType: String, content: String) -> String {
        let body = content.replacingOccurrences(of: "\n", with: "\r\n")
        return "WARC/1.0\r\nWARC-Type: \(type)\r\nWARC-Target-URI: \(uri)\r\nContent-Type: \(contentType)\r\n"
            + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)\r\n\r\n"
    }

    func testEveryFormatWithProvenance() throws {
        try ws.write("src/notes/a.txt", "Plain text.\n")
        try ws.write("src/notes/b.md", "# Title\nBody.\n")
        try ws.write("src/page.html", "<html><body><p>Hello</p></body></html>")
        try ws.write("src/data.jsonl", "{\"uid\": \"u1\", \"body\": \"first \\u00e9\"}\n\n{\"uid\": \"u2\", \"body\": \"second\"}\n")
        try ws.write("src/quotes", "one\r\nmore\r\n%\r\ntwo\n%\n")
        try shell("cp src/data.jsonl src/copy.jsonl && gzip src/copy.jsonl && printf 'zst text' > z.txt && zstd -q --rm z.txt -o src/z.txt.zst")
        let warc = warcRecord(type: "warcinfo", uri: "", contentType: "application/warc-fields", content: "software: test\n")
            + warcRecord(type: "request", uri: "http://example.org/", contentType: "application/http; msgtype=request", content: "GET / HTTP/1.1\nHost: example.org\n\n")
            + warcRecord(type: "response", uri: "http://example.org/", contentType: "application/http; msgtype=response",
                         content: "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\n\n<p>crawled page</p>")
            + warcRecord(type: "response", uri: "http://example.org/img.png", contentType: "application/http; msgtype=response",
                         content: "HTTP/1.1 200 OK\nContent-Type: image/png\n\nPNG")
            + warcRecord(type: "conversion", uri: "http://example.org/doc", contentType: "text/plain", content: "extracted text")
        try ws.write("crawl/part.warc", warc)
        // A multi-member .warc.gz: each record compressed on its own, as crawlers write them.
        try shell("mkdir -p crawl2 && "
            + "awk 'BEGIN{RS=\"WARC/1.0\"} NR>1 {printf \"WARC/1.0%s\", $0 > sprintf(\"rec%02d\", NR)}' crawl/part.warc && "
            + "for f in rec*; do gzip -c $f >> crawl2/part.warc.gz; done && rm rec*")
        try ws.write("c.yaml", """
        version: 1
        name: c
        stages:
          collect:
            uses: collect
            with:
              sources:
                - {path: src, exclude: [quotes], name: files, license: CC0-1.0}
                - {path: src/quotes, format: delimited}
                - {path: crawl, name: crawl}
                - {path: crawl2, name: crawl-gz}
            publish: {documents: out/docs/}

        """)
        // The JSONL source uses other field names.
        try ws.write("c.yaml", try ws.read("c.yaml").replacingOccurrences(of: "- {path: src, exclude: [quotes],",
            with: "- {path: src, exclude: [quotes, \"*.jsonl*\"], name: files, license: CC0-1.0}\n        - {path: src, include: [\"*.jsonl*\"], text_field: body, id_field: uid,"))
        let run = try ws.run(["run", "c.yaml"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let docs = try ws.documents("out/docs")
        let texts = docs.map { $0["text"] as! String }
        XCTAssertEqual(texts, [
            "Plain text.\n", "# Title\nBody.\n", "<html><body><p>Hello</p></body></html>", "zst text",
            "first \u{e9}", "second", "first \u{e9}", "second",
            "one\r\nmore", "two",
            "<p>crawled page</p>", "extracted text",
            "<p>crawled page</p>", "extracted text",
        ])
        let html = docs[2]["meta"] as! [String: Any]
        XCTAssertEqual(html["format"] as? String, "html")
        XCTAssertEqual(html["license"] as? String, "CC0-1.0")
        XCTAssertEqual(docs[4]["id"] as? String, "u1")
        XCTAssertEqual((docs[10]["meta"] as! [String: Any])["url"] as? String, "http://example.org/")
        XCTAssertEqual(docs[10]["id"] as? String, "http://example.org/")
        XCTAssertEqual(docs[9]["source"] as? String, "src/quotes")
        XCTAssertEqual((docs[9]["meta"] as! [String: Any])["offset"] as? Int, 14, "bytes before the second record")

        // Editing one source file makes collect stale, and only that.
        try ws.write("src/notes/a.txt", "Changed.\n")
        let status = try ws.run(["status", "c.yaml"])
        XCTAssertTrue(status.stdout.contains("external input src exclude quotes,*.jsonl* changed"), status.stdout)
    }

    func testLargeCompressedFilesDecompressCompletely() throws {
        let text = (0..<300_000).map { "line \($0) " + String(repeating: "x", count: $0 % 51) + "\n" }.joined()
        try ws.write("src/big.txt", text)
        try shell("gzip -k src/big.txt && zstd -q src/big.txt && rm src/big.txt")
        try ws.write("c.yaml", "version: 1\nname: c\nstages:\n  c:\n    uses: collect\n    with: {sources: [{path: src}], max_file_bytes: 100000000}\n    publish: {documents: out/docs/}\n")
        XCTAssertEqual(try ws.run(["run", "c.yaml"]).status, 0)
        let docs = try ws.documents("out/docs")
        XCTAssertEqual(docs.map { $0["id"] as! String }, ["src/big.txt.gz", "src/big.txt.zst"])
        for doc in docs { XCTAssertTrue((doc["text"] as! String) == text, "\(doc["id"]!) decompressed whole") }
    }

    func testInvalidUTF8PoliciesLimitsAndSeededSampling() throws {
        try ws.write("src/ok.txt", "fine\n")
        var latin = Data("caf".utf8)
        latin.append(0xE9)
        try latin.write(to: ws.root.appendingPathComponent("src/latin.txt"))
        try ws.write("many/docs.jsonl", (0..<200).map { "{\"text\": \"document \($0)\"}\n" }.joined())
        func collect(_ with: String, cache: String = "cache") throws -> [[String: Any]] {
            try ws.write("c.yaml", "version: 1\nname: c\nstages:\n  collect:\n    uses: collect\n    with: \(with)\n    publish: {documents: out/docs/}\n")
            let run = try ws.run(["run", "c.yaml", "--cache", cache])
            XCTAssertEqual(run.status, 0, run.stderr)
            return try ws.documents("out/docs")
        }
        XCTAssertEqual(try collect("{sources: [{path: src}]}").map { $0["text"] as! String }, ["caf\u{FFFD}", "fine\n"])
        XCTAssertEqual(try collect("{sources: [{path: src}], invalid_utf8: latin-1}").map { $0["text"] as! String }, ["caf\u{e9}", "fine\n"])
        XCTAssertEqual(try collect("{sources: [{path: src}], invalid_utf8: skip}").map { $0["text"] as! String }, ["fine\n"])
        let show = try ws.run(["show", "c.yaml", "collect", "--json"]).json as! [String: Any]
        XCTAssertEqual((show["metrics"] as! [String: Double])["collect.skipped_invalid_utf8"], 1)

        XCTAssertEqual(try collect("{sources: [{path: many}], max_documents: 5}").count, 5)
        let sampled = try collect("{sources: [{path: many}], sample: 0.5, seed: 1}").map { $0["id"] as! String }
        XCTAssertGreaterThan(sampled.count, 70)
        XCTAssertLessThan(sampled.count, 130)
        XCTAssertEqual(try collect("{sources: [{path: many}], sample: 0.5, seed: 1}", cache: "other").map { $0["id"] as! String }, sampled)
        XCTAssertNotEqual(try collect("{sources: [{path: many}], sample: 0.5, seed: 2}").map { $0["id"] as! String }, sampled)
    }
}

/// collect's HTTP(S) source against a server the test starts on 127.0.0.1.
final class CollectURLTests: XCTestCase {
    func testFetchesInOrderHonoursRobotsRetriesAndSkipsWhatItShould() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", Workspace.repository.appendingPathComponent("tests-python/http_fixture.py").path, "port"]
        server.currentDirectoryURL = ws.root
        let log = Pipe()
        server.standardOutput = log
        try server.run()
        defer { server.terminate() }
        let portFile = ws.root.appendingPathComponent("port")
        let deadline = Date().addingTimeInterval(10)
        while (try? String(contentsOf: portFile, encoding: .utf8))?.isEmpty ?? true, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        let base = "http://127.0.0.1:" + (try String(contentsOf: portFile, encoding: .utf8))
        try ws.write("urls.txt", "# pages\n\(base)/page/2\n\(base)/private/x\n\(base)/missing\n\(base)/flaky\n\(base)/image\n\(base)/big\n\(base)/text\n")
        try ws.write("u.yaml", """
        version: 1
        name: u
        stages:
          collect:
            uses: collect
            with:
              sources:
                - {kind: urls, urls: ["\(base)/page/1"], url_file: urls.txt, name: web, license: test, rate_limit: 20, concurrency: 3}
              max_file_bytes: 1000000
            publish: {documents: out/docs/}

        """)
        let run = try ws.run(["run", "u.yaml", "-v"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let docs = try ws.documents("out/docs")
        XCTAssertEqual(docs.map { $0["id"] as! String }, ["\(base)/page/1", "\(base)/page/2", "\(base)/flaky", "\(base)/text"])
        XCTAssertEqual(docs[2]["text"] as? String, "recovered")
        let meta = docs[0]["meta"] as! [String: Any]
        XCTAssertEqual(meta["format"] as? String, "html")
        XCTAssertEqual(meta["license"] as? String, "test")
        XCTAssertEqual(meta["status"] as? Int, 200)
        XCTAssertTrue(run.stderr.contains("skipped \(base)/private/x: disallowed by robots.txt"), run.stderr)
        XCTAssertTrue(run.stderr.contains("skipped \(base)/missing: HTTP 404"), run.stderr)
        XCTAssertTrue(run.stderr.contains("skipped \(base)/image: content type image/png"), run.stderr)
        XCTAssertTrue(run.stderr.contains("skipped \(base)/big: larger than 1000000 bytes"), run.stderr)
        server.terminate()
        let requests = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(requests.contains("/private/x"), "robots.txt kept the disallowed URL from being fetched")
        XCTAssertTrue(requests.contains("/robots.txt pipe-collect/0.1"), requests)
        let times = requests.split(separator: "\n").compactMap { Double($0.split(separator: " ")[0]) }
        XCTAssertGreaterThanOrEqual(times.max()! - times.min()!, Double(times.count - 1) / 20 * 0.9, "at most 20 requests per second")
    }
}
