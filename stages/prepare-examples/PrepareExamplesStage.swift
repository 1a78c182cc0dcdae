import Foundation
import PipeKit

/// `prepare-examples`: reads labelled examples from JSONL files (instructions, chats, texts,
/// texts with a class), checks every line, and writes them in one canonical form with train,
/// validation and test splits, from separate files or drawn from one with a seed.
public struct PrepareExamplesStage: Stage {
    public struct Params: Parameters {
        @Param("JSONL file of training examples (also the source of any split not given as a file); or give the documents input")
        var train: String? = nil
        @Param("JSONL file of validation examples; default: drawn from train") var validation: String? = nil
        @Param("JSONL file of test examples; default: drawn from train") var test: String? = nil
        @Param("fractions drawn from train for the splits not given as files") var split = SplitFractions()
        @Param("seed of the draw") var seed = 0
        @Param("field names of the files") var fields = ExampleFields()
        @Param("{text, label} lines: the prompt and each label's verbalizer") var classification = Classification()
        @Param("a line that is not a valid example: fail names it; skip counts it") var bad_lines = BadLinePolicy.fail
        @Param("longest line read", range: .positive) var max_line_bytes = 1 << 20
        @Param("most examples per file", range: .positive) var max_examples = 1_000_000
        @Param("most bytes of examples read, over every file", range: .positive) var max_total_bytes = 1 << 30
        public init() {}
    }

    /// Shares of the train file held out.
    struct SplitFractions: Parameters {
        @Param("share drawn for validation", range: .halfOpen(0, 1)) var validation = 0.1
        @Param("share drawn for test", range: .halfOpen(0, 1)) var test = 0.1
    }

    public static let name = "prepare-examples"
    public static let version = 1
    public static let summary = "Read labelled examples (prompt/completion, chat, text, text+label) from JSONL, check them, and split them."
    public static let inputs = [
        StagePort("documents", .documents, optional: true,
                  doc: "examples from documents instead of a train file: each document's id, text, source and meta keys are its fields"),
    ]
    public static let outputs = [
        StagePort("examples", .examples, doc: "train.jsonl, validation.jsonl, test.jsonl (canonical lines) + meta.json"),
    ]

    public static func externalInputs(_ p: Params) -> [ExternalInput] {
        [p.train, p.validation, p.test].compactMap { $0 }.map { ExternalInput(path: $0) }
    }

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems: [ParamProblem] = []
        if p.split.validation + p.split.test >= 1 { problems.append(ParamProblem(["split"], "validation + test must be below 1")) }
        if !p.classification.labels.isEmpty, !p.classification.prompt.contains("{text}") {
            problems.append(ParamProblem(["classification", "prompt"], "must contain {text}"))
        }
        for label in p.classification.labels.keys where label.isEmpty || label.contains(".") {
            problems.append(ParamProblem(["classification", "labels"], "label '\(label)' must be non-empty without '.' (metrics are named task.<name>.f1.<label>)"))
        }
        if Set(p.classification.labels.values).count != p.classification.labels.count {
            problems.append(ParamProblem(["classification", "labels"], "two labels share a verbalizer"))
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        var reader = RawExampleReader(fields: p.fields, classification: p.classification, policy: p.bad_lines,
                                      maxLineBytes: p.max_line_bytes, maxExamples: p.max_examples, maxTotalBytes: p.max_total_bytes)
        func read(_ path: String) throws -> [Example] {
            try reader.read(path.hasPrefix("/") ? URL(fileURLWithPath: path) : context.workspace.appendingPathComponent(path), shown: path)
        }
        let pool: [Example]
        switch (p.train, context.optionalInput("documents")) {
        case (let train?, nil): pool = try read(train)
        case (nil, let documents?):
            pool = try reader.read(DocumentsReader(folder: documents.materialize(into: context.scratch.appendingPathComponent("documents"))))
        case (nil, nil): throw StageError("give the training examples: with.train or the documents input")
        case (_?, _?): throw StageError("give with.train or the documents input, not both")
        }
        let origin = p.train ?? "the documents"
        var splits: [String: [Example]] = ["validation": try p.validation.map(read) ?? [], "test": try p.test.map(read) ?? []]
        let drawn = Self.draw(count: pool.count, validation: p.validation == nil ? p.split.validation : 0,
                              test: p.test == nil ? p.split.test : 0, seed: p.seed)
        splits["train"] = drawn.train.map { pool[$0] }
        if p.validation == nil { splits["validation"] = drawn.validation.map { pool[$0] } }
        if p.test == nil { splits["test"] = drawn.test.map { pool[$0] } }

        guard let form = reader.form, !(splits["train"] ?? []).isEmpty else { throw StageError("\(origin): no training examples") }
        if reader.badLines > 0 {
            context.warn("skipped \(reader.badLines) bad line(s): " + reader.reported.joined(separator: "; ") + (reader.badLines > reader.reported.count ? "; …" : ""))
        }
        var meta = ExampleSet.Meta(form: form, counts: splits.mapValues(\.count))
        if form == "classification" {
            meta.labels = p.classification.labels
            meta.labelOrder = p.classification.labels.keys.sorted()
        }
        try ExampleSet.write(splits, meta: meta, to: try context.output("examples"))
        context.metric("examples.bad_lines", Double(reader.badLines))
        for split in ExampleSet.splits { context.metric("examples.\(split)", Double(splits[split]?.count ?? 0)) }
        context.log("\(form) examples: " + ExampleSet.splits.map { "\(splits[$0]?.count ?? 0) \($0)" }.joined(separator: ", "))
    }

    /// Indices of `count` examples dealt into splits by a seeded shuffle, each split in file
    /// order; the held-out splits get their share rounded down.
    static func draw(count: Int, validation: Double, test: Double, seed: Int) -> (train: [Int], validation: [Int], test: [Int]) {
        var order = Array(0..<count)
        var rng = SplitMix64.keyed("examples", seed: UInt64(bitPattern: Int64(seed)))
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let testCount = Int(Double(count) * test), validationCount = Int(Double(count) * validation)
        let testPart = order[..<testCount].sorted(), validationPart = order[testCount..<testCount + validationCount].sorted()
        return (order[(testCount + validationCount)...].sorted(), validationPart, testPart)
    }
}
