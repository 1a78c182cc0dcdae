import Foundation
import PipeKit
import XCTest

/// Documents shards are read line by line in bounded memory, and bad lines are errors.
final class DocumentsReaderTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-docs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func shard(_ text: String, _ name: String = "part-00000.jsonl") throws {
        try Data(text.utf8).write(to: folder.appendingPathComponent(name))
    }

    func testReadsEveryDocumentInShardOrder() throws {
        try shard("{\"id\": \"a\", \"text\": \"one\"}\n\n{\"id\": \"b\", \"text\": \"two\"}\n")
        try shard("{\"id\": \"c\", \"text\": \"three\"}", "part-00001.jsonl")
        var ids: [String] = []
        try DocumentsReader(folder: folder).forEach { ids.append($0.id) }
        XCTAssertEqual(ids, ["a", "b", "c"])
    }

    func testAMalformedLineIsAnErrorNamingTheShardAndLine() throws {
        try shard("{\"id\": \"a\", \"text\": \"fine\"}\n{\"id\": 3}\n")
        XCTAssertThrowsError(try DocumentsReader(folder: folder).forEach { _ in }) {
            XCTAssertTrue("\($0)".contains("part-00000.jsonl:2: not a document"), "\($0)")
        }
    }

    func testALineOverTheCapIsAnErrorNotAnAllocation() throws {
        try shard("{\"id\": \"a\", \"text\": \"fine\"}\n{\"id\": \"b\", \"text\": \"" + String(repeating: "x", count: 5000) + "\"}\n")
        XCTAssertThrowsError(try DocumentsReader(folder: folder, maxLineBytes: 4096).forEach { _ in }) {
            XCTAssertTrue("\($0)".contains("part-00000.jsonl:2: line longer than 4096 bytes"), "\($0)")
        }
    }

    func testLinesAcrossChunkBoundariesAreWholeAndNumbered() throws {
        var text = ""
        for n in 0..<200 { text += String(repeating: Character(UnicodeScalar(97 + n % 26)!), count: n * 7 % 61) + "\n" }
        try shard(text + "tail")
        var lines: [String] = [], numbers: [Int] = []
        try LineReader.forEachLine(of: folder.appendingPathComponent("part-00000.jsonl"), maxLineBytes: 100, chunkBytes: 16) {
            lines.append(String(decoding: $0, as: UTF8.self))
            numbers.append($1)
        }
        XCTAssertEqual(lines, text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init) + ["tail"])
        XCTAssertEqual(numbers, Array(1...201))
    }
}

/// Long texts are written a piece at a time and read back whole.
final class DocumentsWriterTests: XCTestCase {
    func testALongTextOfControlBytesIsWrittenInPiecesAndReadsBackWhole() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-writer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = String(repeating: "\u{0}\"\\\ncafé ", count: 300_000)  // 3.3 MB, about 12 MB escaped
        let writer = DocumentsWriter(folder: folder)
        try writer.write(Document(id: "long", text: text))
        try writer.write(Document(id: "short", text: "after"))
        try writer.close()
        var read: [Document] = []
        try DocumentsReader(folder: folder).forEach { read.append($0) }
        XCTAssertEqual(read.map(\.id), ["long", "short"])
        XCTAssertEqual(read.first?.text, text)
    }
}
