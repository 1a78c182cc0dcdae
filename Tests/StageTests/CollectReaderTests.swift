@testable import CollectStage
import Foundation
import XCTest

/// Bytes handed out a few at a time, as a slow file or decompressor would.
struct ChunkedBytes: ByteStream {
    let bytes: [UInt8]
    let chunk: Int
    var offset = 0

    mutating func read(into buffer: inout [UInt8], limit: Int) throws -> Int {
        let count = min(chunk, limit, bytes.count - offset)
        buffer.append(contentsOf: bytes[offset..<(offset + count)])
        offset += count
        return count
    }
}

/// collect's readers on hostile input: capped records, linear line assembly, damaged
/// compressed streams, WARC records over the cap, and folders holding more than files.
final class CollectReaderTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-collect-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func shell(_ command: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-e", "-c", command]
        process.currentDirectoryURL = folder
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, command)
    }

    /// Every line of `text` read in `chunk`-byte pieces: its text (nil when over `limit`,
    /// then its length) and its offset.
    func lines(_ text: String, chunk: Int, limit: Int) throws -> [(String, Int)] {
        var reader = BufferedReader(ChunkedBytes(bytes: Array(text.utf8), chunk: chunk))
        var result: [(String, Int)] = []
        while true {
            let offset = reader.position
            var line = ""
            guard let found = try reader.line(limit: limit, { line = String(decoding: $0, as: UTF8.self) }) else { return result }
            if case .oversized(let bytes) = found { line = "<\(bytes) bytes>" }
            result.append((line, offset))
        }
    }

    func testLinesAcrossChunksWithLongOnesReadPast() throws {
        let text = "one\n" + String(repeating: "x", count: 50) + "\ntwo\n\nlast"
        for chunk in [1, 3, 7, 64] {
            let found = try lines(text, chunk: chunk, limit: 10)
            XCTAssertEqual(found.map(\.0), ["one", "<50 bytes>", "two", "", "last"], "chunk \(chunk)")
            XCTAssertEqual(found.map(\.1), [0, 4, 55, 59, 60], "chunk \(chunk)")
        }
        XCTAssertEqual(try lines(String(repeating: "y", count: 30), chunk: 4, limit: 10).map(\.0), ["<30 bytes>"], "unterminated last line")
    }

    /// A 64 MiB line arriving in 4 KiB pieces: assembled in linear time (searching the whole
    /// prefix again per piece would scan about 512 GiB), and read past in bounded memory.
    func testLongLineIsAssembledInLinearTime() throws {
        let line = [UInt8](repeating: 0x61, count: 64 << 20) + [0x0A, 0x62]
        var reader = BufferedReader(ChunkedBytes(bytes: line, chunk: 4096))
        var length = 0
        XCTAssertEqual(try reader.line(limit: 128 << 20) { length = $0.count }, .line)
        XCTAssertEqual(length, 64 << 20)
        reader = BufferedReader(ChunkedBytes(bytes: line, chunk: 4096))
        XCTAssertEqual(try reader.line(limit: 1 << 20) { _ in XCTFail("kept") }, .oversized(bytes: 64 << 20))
        XCTAssertEqual(try reader.line(limit: 1 << 20) { XCTAssertEqual(Array($0), [0x62]) }, .line)
    }

    func testDelimitedRecordOverTheCapIsMeasuredNotKept() {
        var record = DelimitedRecord(maxBytes: 10)
        Array("abcd".utf8).withUnsafeBufferPointer { record.append($0, at: 5) }
        XCTAssertEqual(record.text, Array("abcd\n".utf8))
        Array("efghij".utf8).withUnsafeBufferPointer { record.append($0, at: 10) }
        record.appendOversized(100, at: 17)
        XCTAssertEqual(record.text, [])
        XCTAssertEqual(record.oversizedBytes, 5 + 7 + 101)
        XCTAssertEqual(record.offset, 5)
    }

    /// Reads a whole file through `openStream`.
    func decompress(_ name: String) throws -> [UInt8] {
        var stream = try openStream(folder.appendingPathComponent(name))
        var bytes: [UInt8] = []
        while try stream.read(into: &bytes, limit: 1 << 16) > 0 {}
        return bytes
    }

    func testTruncatedAndDamagedStreamsAreCorrupt() throws {
        let text = (0..<20_000).map { "line \($0)\n" }.joined()
        try Data(text.utf8).write(to: folder.appendingPathComponent("t.txt"))
        try shell("gzip -c t.txt > t.txt.gz && cat t.txt.gz t.txt.gz > two.txt.gz && zstd -q -c t.txt > t.txt.zst && : > empty.gz && "
            + "head -c -100 t.txt.gz > cut.txt.gz && head -c 30 t.txt.gz > head.txt.gz && head -c -100 t.txt.zst > cut.txt.zst && "
            + "cp t.txt.gz flip.txt.gz && printf 'XXXX' | dd of=flip.txt.gz bs=1 seek=5000 conv=notrunc 2>/dev/null && "
            + "cp t.txt.zst flip.txt.zst && printf 'XXXX' | dd of=flip.txt.zst bs=1 seek=5000 conv=notrunc 2>/dev/null")
        XCTAssertEqual(try decompress("t.txt.gz"), Array(text.utf8))
        XCTAssertEqual(try decompress("two.txt.gz"), Array((text + text).utf8), "concatenated members")
        XCTAssertEqual(try decompress("t.txt.zst"), Array(text.utf8))
        XCTAssertEqual(try decompress("empty.gz"), [])
        for (name, message) in [("cut.txt.gz", "truncated gzip"), ("head.txt.gz", "truncated gzip"), ("cut.txt.zst", "truncated zstd"),
                                ("flip.txt.gz", "not valid gzip"), ("flip.txt.zst", "not valid zstd")] {
            XCTAssertThrowsError(try decompress(name), name) { error in
                XCTAssertTrue(error is CorruptInput, "\(name): \(error)")
                XCTAssertTrue("\(error)".contains(name + ": " + message), "\(error)")
            }
        }
    }

    func testOpeningAFIFOIsRefusedAtOnce() throws {
        try shell("mkfifo fifo")
        XCTAssertThrowsError(try FileStream(folder.appendingPathComponent("fifo"))) { error in
            XCTAssertTrue("\(error)".contains("not a regular file"), "\(error)")
        }
    }

    /// A WARC conversion record with `content`, claiming `length` bytes.
    func warcRecord(_ content: String, length: Int? = nil) -> String {
        "WARC/1.0\r\nWARC-Type: conversion\r\nContent-Type: text/plain\r\nContent-Length: \(length ?? content.utf8.count)\r\n\r\n\(content)\r\n\r\n"
    }

    func warcEntries(_ text: String, cap: Int) throws -> [String] {
        var reader = WARCReader(ChunkedBytes(bytes: Array(text.utf8), chunk: 7), path: "c.warc", maxRecordBytes: cap)
        var result: [String] = []
        while let entry = try reader.next() {
            switch entry {
            case .record(let record): result.append("\(String(decoding: record.body, as: UTF8.self))@\(record.offset)")
            case .oversized(let offset, let bytes): result.append("<\(bytes) bytes>@\(offset)")
            }
        }
        return result
    }

    func testWARCRecordsOverTheCapAreReadPastAndReported() throws {
        let first = warcRecord("first"), big = warcRecord(String(repeating: "z", count: 500))
        let text = first + big + warcRecord("third")
        XCTAssertEqual(try warcEntries(text, cap: 200), ["first@0", "<500 bytes>@\(first.utf8.count)", "third@\((first + big).utf8.count)"])
    }

    func testWARCDamageIsCorruptInput() throws {
        let cases = [
            (warcRecord("short", length: 1 << 40), "is truncated"),
            ("WARC/1.0\r\nX-Long: " + String(repeating: "h", count: 500) + "\r\n\r\n", "header block near byte 0 is longer than max_record_bytes"),
            (String(repeating: "g", count: 1000), "header block near byte 0 is longer"),
            ("not a warc\r\n", "expected a WARC record near byte 0"),
        ]
        for (text, message) in cases {
            XCTAssertThrowsError(try warcEntries(text, cap: 200)) { error in
                XCTAssertTrue(error is CorruptInput && "\(error)".contains(message), "\(error)")
            }
        }
    }

    func listing(_ path: String, follow: Bool = false) throws -> FolderListing {
        try FolderListing(folder.appendingPathComponent(path), path: path, include: [], exclude: [], followSymlinks: follow)
    }

    func testFolderListingLeavesOutSpecialFilesAndLinksOutside() throws {
        try shell("mkdir -p src/sub outside/deeper && echo a > src/a.txt && echo b > src/sub/b.txt && echo s > outside/secret.txt && "
            + "mkfifo src/fifo && ln -s ../outside/secret.txt src/out.txt && ln -s ../outside src/outdir && ln -s a.txt src/same.txt && "
            + "ln -s sub src/subagain && ln -s ../src outside/deeper/back && ln -s missing src/dangling && ln -s src linked")
        var found = try listing("src")
        XCTAssertEqual(found.files.map(\.1), ["a.txt", "same.txt", "sub/b.txt"])
        XCTAssertEqual(found.special, ["fifo"])
        XCTAssertEqual(found.outsideLinks.sorted(), ["out.txt", "outdir"])
        XCTAssertEqual(try listing("linked").files.map(\.1), found.files.map(\.1), "a symlinked root is walked")
        found = try listing("src", follow: true)
        XCTAssertEqual(found.files.map(\.1), ["a.txt", "out.txt", "outdir/secret.txt", "same.txt", "sub/b.txt"],
                       "outdir/deeper/back leads back into src: not walked twice")
        XCTAssertEqual(found.outsideLinks, [])
        XCTAssertEqual(try listing("src/fifo").special, ["src/fifo"])
    }

    func testDeadlineEndsASlowOperation() async throws {
        let started = Date()
        do {
            _ = try await withDeadline(0.2) { try await Task.sleep(nanoseconds: 60_000_000_000) }
            XCTFail("no deadline")
        } catch let limit as DownloadLimit {
            XCTAssertEqual(limit.description, "not complete within the deadline (0.2 s)")
        }
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        let value = try await withDeadline(10) { 42 }
        XCTAssertEqual(value, 42)
    }
}
