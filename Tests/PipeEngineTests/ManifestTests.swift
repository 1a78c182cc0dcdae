import Foundation
@testable import PipeEngine
import PipeKit
import XCTest

/// A built-in stage used to test the engine's in-process path: it sums the bytes of its input.
struct ByteCountStage: Stage {
    struct Params: Parameters {
        @Param("multiplies the count") var scale = 1.0
        @Param("the metric's name") var label = "n"
        @Param("a nested object") var model = Model()
        init() {}
        struct Model: Parameters {
            @Param("width", range: .positive) var dim = 64
            @Param("heads", range: .positive) var heads = 4
        }
    }
    static let name = "byte-count"
    static let version = 1
    static let summary = "Counts input bytes"
    static let inputs = [StagePort("data", .any, optional: true)]
    static let outputs = [StagePort("metrics", .metrics)]
    static func validate(_ p: Params) -> [ParamProblem] {
        p.model.dim % p.model.heads == 0 ? [] : [ParamProblem(["model", "heads"], "must divide dim (\(p.model.dim))")]
    }
    init() {}
    func run(_ p: Params, _ context: StageContext) async throws {
        var total = 0
        if let input = context.optionalInput("data") {
            for file in input.files { try input.readChunks(file.path) { total += $0.count } }
        }
        let text = "{\"\(p.label)\": \(Double(total) * p.scale)}\n"
        try Data(text.utf8).write(to: try context.output("metrics").appendingPathComponent("metrics.json"))
        context.metric("bytes", Double(total))
    }
}

final class ManifestTests: XCTestCase {
    var folder: URL!

    override func setUpWithError() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("pipe-unit-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: folder) }

    func load(_ text: String, overrides: [(String, String)] = []) throws -> Manifest {
        let url = folder.appendingPathComponent("m.yaml")
        try Data(text.utf8).write(to: url)
        let loader = ManifestLoader(registry: StageRegistry([StageDescriptor(builtin: ByteCountStage.self)]), workspace: folder)
        return try loader.load(url, displayPath: "m.yaml", overrides: overrides)
    }

    func messages(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch let error as ManifestError {
            return error.diagnostics.map(\.description)
        } catch {
            return ["\(error)"]
        }
    }

    func testDefaultsAreFilledAndIntsBecomeFloats() throws {
        let m = try load("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with: {scale: 2, model: {dim: 128}}\n")
        XCTAssertEqual(m.stage("a")!.params.canonicalJSON, #"{"label":"n","model":{"dim":128,"heads":4},"scale":2.0}"#)
    }

    func testEqualParametersSpelledDifferentlyGiveTheSameKey() throws {
        let a = try load("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with: {scale: 2}\n")
        let b = try load("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with: {scale: 2.0, label: n}\n")
        XCTAssertEqual(a.stage("a")!.params, b.stage("a")!.params)
    }

    func testExactParameterReferenceKeepsItsType() throws {
        let m = try load("version: 1\nname: t\nparams: {d: 96, tag: run}\nstages:\n  a:\n    uses: byte-count\n"
            + "    with: {model: {dim: \"${params.d}\", heads: 3}, label: \"${params.tag}-${params.d}\"}\n")
        XCTAssertEqual(m.stage("a")!.params["model"]?["dim"], .int(96))
        XCTAssertEqual(m.stage("a")!.params["label"], .string("run-96"))
    }

    func testSetOverridesAreTypedAsYAML() throws {
        let m = try load("version: 1\nname: t\nparams: {d: 96}\nstages:\n  a:\n    uses: byte-count\n    with: {model: {dim: \"${params.d}\", heads: 4}}\n",
                         overrides: [("d", "128")])
        XCTAssertEqual(m.stage("a")!.params["model"]?["dim"], .int(128))
    }

    func testStageRulesAreLocatedAtTheParameter() {
        XCTAssertEqual(messages("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with:\n      model: {dim: 10, heads: 3}\n"),
                       ["m.yaml:7:31: error: parameter 'model.heads': must divide dim (10)"])
    }

    func testDeclaredBoundsAreCheckedAtTheValueBeforeTheStagesOwnRules() {
        XCTAssertEqual(messages("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with:\n      model: {dim: 10, heads: 0}\n"),
                       ["m.yaml:7:31: error: parameter 'model.heads': must be positive, not 0"])
    }

    func testNestedUnknownFieldsGetSuggestions() {
        XCTAssertEqual(messages("version: 1\nname: t\nstages:\n  a:\n    uses: byte-count\n    with: {model: {dimm: 10}}\n"),
                       ["m.yaml:6:20: error: unknown parameter 'model.dimm' for stage 'a' (byte-count); did you mean 'dim'?"])
    }

    func testAliasBombIsRefused() {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for i in 1...9 { text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n" }
        XCTAssertThrowsError(try YAMLLoader.parse(Data(text.utf8), displayPath: "bomb.yaml")) { error in
            XCTAssertTrue("\(error)".contains("alias bomb"), "\(error)")
        }
    }

    func testDeepNestingIsRefused() {
        let text = String(repeating: "[", count: 200) + String(repeating: "]", count: 200)
        XCTAssertThrowsError(try YAMLLoader.parse(Data(text.utf8), displayPath: "deep.yaml")) { error in
            XCTAssertTrue("\(error)".contains("nesting deeper than 64"), "\(error)")
        }
    }

    func testInvalidUTF8IsLocated() {
        let data = Data("version: 1\nname: \u{e9}t\u{e9}\n".utf8) + Data([0x61, 0xFF, 0x0A])
        XCTAssertThrowsError(try YAMLLoader.parse(data, displayPath: "bad.yaml")) { error in
            XCTAssertEqual("\(error)", "bad.yaml:3:2: error: file is not valid UTF-8")
        }
    }

    func testOversizedFilesAreRefusedBeforeReading() throws {
        let url = folder.appendingPathComponent("big.yaml")
        FileManager.default.createFile(atPath: url.path, contents: nil)
        let handle = try FileHandle(forWritingTo: url)
        try handle.truncate(atOffset: 100 << 20)
        try handle.close()
        XCTAssertThrowsError(try YAMLLoader.load(file: url, displayPath: "big.yaml")) { error in
            XCTAssertTrue("\(error)".contains("104857600 bytes; YAML files over 4194304 bytes are refused"), "\(error)")
        }
    }
}

final class CoreSchemaTests: XCTestCase {
    func testYAML12CoreSchema() {
        XCTAssertEqual(CoreSchema.resolve("true"), .bool(true))
        XCTAssertEqual(CoreSchema.resolve("no"), .string("no"))
        XCTAssertEqual(CoreSchema.resolve("yes"), .string("yes"))
        XCTAssertEqual(CoreSchema.resolve("3e-3"), .double(0.003))
        XCTAssertEqual(CoreSchema.resolve("-12"), .int(-12))
        XCTAssertEqual(CoreSchema.resolve("0x1F"), .int(31))
        XCTAssertEqual(CoreSchema.resolve("1_000"), .string("1_000"))
        XCTAssertEqual(CoreSchema.resolve(".5"), .double(0.5))
        XCTAssertEqual(CoreSchema.resolve("~"), .null)
        XCTAssertEqual(CoreSchema.resolve("1.2.3"), .string("1.2.3"))
        XCTAssertEqual(CoreSchema.resolve("e5"), .string("e5"))
    }
}

final class SupportTests: XCTestCase {
    func testGlobs() {
        XCTAssertTrue(GlobPattern("**/*.txt").matches("a.txt"))
        XCTAssertTrue(GlobPattern("**/*.txt").matches("x/y/a.txt"))
        XCTAssertFalse(GlobPattern("*.txt").matches("x/a.txt"))
        XCTAssertTrue(GlobPattern("docs/**").matches("docs/a/b.md"))
        XCTAssertTrue(GlobPattern("part-?????.jsonl").matches("part-00001.jsonl"))
        XCTAssertTrue(GlobPattern("[ab].md").matches("b.md"))
        XCTAssertFalse(GlobPattern("[ab].md").matches("c.md"))
    }

    func testDurations() {
        XCTAssertEqual(Duration.parse("90s"), 90)
        XCTAssertEqual(Duration.parse("1h30m"), 5400)
        XCTAssertEqual(Duration.parse("15"), 15)
        XCTAssertNil(Duration.parse("soon"))
        XCTAssertNil(Duration.parse("1m30"))
    }

    func testSuggestions() {
        XCTAssertEqual(Suggestion.closest(to: "lrr", in: ["lr", "steps"]), "lr")
        XCTAssertEqual(Suggestion.closest(to: "docs", in: ["documents", "tokens"]), "documents")
        XCTAssertNil(Suggestion.closest(to: "zzz", in: ["documents"]))
    }

    func testWorkspacePaths() {
        let ws = URL(fileURLWithPath: "/w")
        XCTAssertTrue(WorkspacePath.isInside("out/a.gguf", workspace: ws))
        XCTAssertTrue(WorkspacePath.isInside("out/../b", workspace: ws))
        XCTAssertFalse(WorkspacePath.isInside("../b", workspace: ws))
        XCTAssertFalse(WorkspacePath.isInside("out/../../b", workspace: ws))
        XCTAssertFalse(WorkspacePath.isInside("/etc/passwd", workspace: ws))
        XCTAssertFalse(WorkspacePath.isInside(".", workspace: ws))
    }

    func testStaleReasonsNameParameterChanges() {
        let old = KeyParts(kind: "train", code: "builtin@1", params: .object(["lr": .double(0.003), "steps": .int(10)]),
                           inputs: ["tokens": "a"], external: [:], environment: [:])
        var new = old
        new.params = .object(["lr": .double(0.001), "steps": .int(10)])
        new.inputs = ["tokens": "b"]
        XCTAssertEqual(StaleReason.differences(from: old, to: new).map(\.description),
                       ["parameter lr changed 0.003 -> 0.001", "input tokens changed"])
        XCTAssertNotEqual(old.key, new.key)
    }
}
