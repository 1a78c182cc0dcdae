import Foundation
import XCTest

/// Follows docs/plugins.md literally: runs its `sh` blocks, writes its `file=` blocks and applies
/// its `replace=` blocks, in order, in a fresh workspace with the built `pipe` on PATH.
final class GuideTests: XCTestCase {
    struct Block {
        var info: String
        var body: String
    }

    static func blocks(in markdown: String) -> [Block] {
        var result: [Block] = []
        var current: Block?
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                if let block = current {
                    result.append(block)
                    current = nil
                } else {
                    current = Block(info: String(line.dropFirst(3)), body: "")
                }
            } else if current != nil {
                current!.body += line + "\n"
            }
        }
        return result
    }

    func testPluginGuideWorksAsWritten() throws {
        let ws = try Workspace()
        defer { ws.remove() }
        let guide = try String(contentsOf: Workspace.repository.appendingPathComponent("docs/plugins.md"), encoding: .utf8)
        var shellOutput = ""
        var steps = 0
        for block in Self.blocks(in: guide) {
            let words = block.info.split(separator: " ").map(String.init)
            guard let language = words.first else { continue }
            let attributes = Dictionary(words.dropFirst().compactMap { word -> (String, String)? in
                let parts = word.split(separator: "=", maxSplits: 1).map(String.init)
                return parts.count == 2 ? (parts[0], parts[1]) : nil
            }, uniquingKeysWith: { a, _ in a })
            if language == "sh" {
                let output = try shell(block.body, in: ws)
                XCTAssertEqual(output.status, 0, "guide step failed:\n\(block.body)\n\(output.text)")
                shellOutput += output.text
                steps += 1
            } else if let path = attributes["file"] {
                try ws.write(path, block.body)
                steps += 1
            } else if let path = attributes["replace"] {
                let original = try ws.read(path)
                try ws.write(path, try replaceDefinition(in: original, with: block.body))
                steps += 1
            }
        }
        XCTAssertGreaterThanOrEqual(steps, 6)
        let published = try ws.read("out/guide/part-00000.jsonl")
        XCTAssertTrue(published.contains("A longer document"), published)
        XCTAssertFalse(published.contains("A short note"), published)
        XCTAssertTrue(shellOutput.contains("documents.kept  1.0"), shellOutput)
        XCTAssertTrue(shellOutput.contains("documents.dropped  1.0"), shellOutput)
        XCTAssertTrue(shellOutput.contains("min_words: int  default 5"), shellOutput)
        let again = try ws.run(["run", "pipelines/guide.yaml"])
        XCTAssertTrue(again.stderr.contains("Nothing to do"), again.stderr)
    }

    /// Replaces the top-level definition that starts like `replacement` (up to its `(`).
    func replaceDefinition(in text: String, with replacement: String) throws -> String {
        let head = String(replacement.prefix { $0 != "(" })
        var lines = text.components(separatedBy: "\n")
        let start = try XCTUnwrap(lines.firstIndex { $0.hasPrefix(head + "(") }, "no '\(head)' to replace")
        var end = start + 1
        while end < lines.count, lines[end].isEmpty || lines[end].hasPrefix(" ") || lines[end].hasPrefix("\t") { end += 1 }
        while end > start + 1, lines[end - 1].isEmpty { end -= 1 }
        lines.replaceSubrange(start..<end, with: replacement.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init))
        return lines.joined(separator: "\n")
    }

    func shell(_ script: String, in ws: Workspace) throws -> (status: Int32, text: String) {
        var env = ProcessInfo.processInfo.environment
        env["PATH"] = Workspace.binary.deletingLastPathComponent().path + ":" + (env["PATH"] ?? "/usr/bin:/bin")
        env["PIPE_CACHE"] = nil
        let result = try Workspace.execute("/bin/sh", ["-e", "-c", script], in: ws.root, environment: env)
        return (result.status, result.output)
    }
}
