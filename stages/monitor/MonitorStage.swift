import BPETokenizer
import Foundation
import LanguageIdentification
import PipeKit
import TokenScoring
import Transformer

/// `monitor`: how far current documents have drifted from reference documents, seen through
/// the model's own tokenizer and model, as distances with a minimum sample size (never bare
/// p-values), checked against gates in the objective's target form.
public struct MonitorStage: Stage {
    public struct Params: Parameters {
        @Param("metric -> {min, max}, e.g. drift.token_js: {max: 0.05}") var gates: [String: MetricBound] = [:]
        @Param("fail: an unmet gate fails the stage and skips what needs it; warn: report only") var gate = GateMode.fail
        @Param("documents read per side at most, chosen at random (seeded) when there are more", range: .positive) var max_documents = 20000
        @Param("bytes of text per side held at most (the sample's); more is an error", range: .positive) var max_bytes = 256 << 20
        @Param("fewer documents than this on either side: the stage cannot judge", range: .positive) var min_documents = 50
        @Param("fewer tokens than this on either side: the stage cannot judge", range: .positive) var min_tokens = 2000
        @Param("PSI's bins: the K most frequent reference tokens, plus one for all others", range: .positive) var psi_bins = 20
        @Param("the share an empty PSI bin counts as", range: .leftOpen(0, 0.01)) var psi_epsilon = 1.0e-4
        @Param("tokens listed as the largest contributors to the JS divergence", range: .nonNegative) var top_tokens = 20
        @Param("bins of the length histogram in details.json", range: .positive) var length_bins = 20
        @Param("tokens per side the model scores at most (whole documents, in sample order)", range: .positive) var max_scored_tokens = 50000
        @Param("sliding-window stride in tokens; default half the context", range: .positive) var stride: Int? = nil
        @Param("windows per forward pass", range: .positive) var batch = 8
        @Param("bootstrap resamples of the bits-per-byte difference", range: .positive) var resamples = 1000
        @Param("confidence level of the bootstrap interval", range: .closed(0.5, 0.999)) var confidence = 0.95
        @Param("special token written after every document, as bpe-tokenize does (when the tokenizer has it)") var end_of_text = "<|endoftext|>"
        @Param("seed of the document sample and the bootstrap") var seed = 0
        public init() {}
    }

    public static let name = "monitor"
    public static let version = 1
    public static let summary = "Measure drift of current documents from reference documents (tokens, bits per byte, lengths, languages) and gate on it."
    public static let inputs = [
        StagePort("reference", .documents, doc: "what the model was trained on (or a window known to be good)"),
        StagePort("current", .documents, doc: "fresh documents: a new collect, or a request log read as documents"),
        StagePort("tokenizer", .tokenizer, doc: "the model's tokenizer: token distributions are over its ids"),
        StagePort("model", .model, optional: true, doc: "the deployed model; without it there is no bits-per-byte drift"),
    ]
    public static let outputs = [
        StagePort("drift", .metrics, doc: "metrics.json (drift.*), gates.json, details.json (per-token and per-feature values), histograms.json"),
    ]

    public static func validate(_ p: Params) -> [ParamProblem] {
        var problems = MetricBound.problems(p.gates, under: "gates")
        for metric in p.gates.keys.sorted() where !metric.hasPrefix("drift.") {
            problems.append(ParamProblem(["gates", metric], "monitor measures drift.* metrics only"))
        }
        return problems
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let tokenizerFolder = try context.input("tokenizer").materialize(into: context.scratch.appendingPathComponent("tokenizer"))
        let tokenizer = try Tokenizer(contentsOf: tokenizerFolder)
        let identifier = LanguageIdentifier()
        var samples: [DocumentSample] = [], sides: [SideProfile] = []
        for (n, name) in ["reference", "current"].enumerated() {
            context.progress(Double(n) / 4, "reading \(name)")
            let sample = try DocumentSample.read(try context.input(name), folder: context.scratch.appendingPathComponent(name),
                                                 limit: p.max_documents, maxBytes: p.max_bytes, seed: UInt64(p.seed) &+ UInt64(n), side: name)
            samples.append(sample)
            sides.append(SideProfile(texts: sample.texts, tokenizer: tokenizer, identifier: identifier))
            context.log("\(name): \(sample.texts.count) of \(sample.seen) documents, \(sides[n].tokens) tokens, \(sides[n].bytes) bytes")
        }
        let (reference, current) = (sides[0], sides[1])
        var report = DriftReport()
        report.addSides(reference: reference, current: current, seen: samples.map(\.seen))

        let out = try context.output("drift")
        let gates = Gates(p.gates, mode: p.gate)
        let short = zip(["reference", "current"], sides).compactMap { name, side -> String? in
            if side.documents < p.min_documents { return "\(name) has \(side.documents) documents (min_documents \(p.min_documents))" }
            if side.tokens < p.min_tokens { return "\(name) has \(side.tokens) tokens (min_tokens \(p.min_tokens))" }
            return nil
        }
        if !short.isEmpty {
            let reason = "cannot judge drift: " + short.joined(separator: "; ")
            report.details["judged"] = .bool(false)
            report.details["reason"] = .string(reason)
            try write(report, to: out, context: context)
            // Unmet gates carry the reason in their failure or warning; with none unmet, it is said here.
            if gates.check(report.metrics).allSatisfy(\.met) { context.warn(reason) }
            try gates.enforce(report.metrics, context: context, into: out, preface: reason)
            return
        }
        report.details["judged"] = .bool(true)
        report.addTokenShift(reference: reference, current: current, tokenizer: tokenizer, psiBins: p.psi_bins,
                             epsilon: p.psi_epsilon, topTokens: p.top_tokens)
        report.addLengthShift(reference: reference, current: current, bins: p.length_bins)
        report.addLanguageShift(reference: reference, current: current)
        if let modelInput = context.optionalInput("model") {
            try measureBitsPerByte(p, model: modelInput, tokenizer: tokenizer, sides: sides, into: &report, context: context)
        } else {
            context.log("no model input: no bits-per-byte drift")
        }
        try write(report, to: out, context: context)
        try gates.enforce(report.metrics, context: context, into: out)
    }

    private func measureBitsPerByte(_ p: Params, model input: any ArtifactReading, tokenizer: Tokenizer, sides: [SideProfile],
                                    into report: inout DriftReport, context: StageContext) throws
    {
        BLAS.useSingleThread()
        let model = try ModelFiles.load(from: input.materialize(into: context.scratch.appendingPathComponent("model")))
        guard tokenizer.vocabularySize == model.config.vocabSize else {
            throw StageError("the model's vocabulary (\(model.config.vocabSize)) differs from the tokenizer's (\(tokenizer.vocabularySize))")
        }
        let tokenBytes = (0..<tokenizer.vocabularySize).map { tokenizer.textBytes(Int32($0)) }
        let scoring = DocumentScoring(
            evaluation: SlidingWindowEvaluation(model: model, workers: Workers(context.threads), batch: p.batch, tokenBytes: tokenBytes),
            endOfText: tokenizer.specialTokenId(p.end_of_text), stride: p.stride ?? max(1, model.config.context / 2),
            maxTokens: p.max_scored_tokens)
        let losses = sides.enumerated().map { n, side in
            scoring.score(side.encoded) { context.progress(0.5 + (Double(n) + $0) / 4, "scoring \(n == 0 ? "reference" : "current")") }
        }
        guard let delta = BitsPerByteDelta.measure(reference: losses[0], current: losses[1], resamples: p.resamples,
                                                   confidence: p.confidence, seed: UInt64(p.seed))
        else {
            context.warn("no text bytes were scored on one side: no bits-per-byte drift")
            return
        }
        report.addBitsPerByte(delta, scored: losses.map(\.count), resamples: p.resamples, confidence: p.confidence, seed: p.seed)
        context.log(String(format: "bits per byte: reference %.4f, current %.4f, delta %+.4f [%.4f, %.4f]",
                           delta.reference, delta.current, delta.delta, delta.low, delta.high))
    }

    private func write(_ report: DriftReport, to folder: URL, context: StageContext) throws {
        for (name, value) in report.metrics.sorted(by: { $0.key < $1.key }) { context.metric(name, value) }
        try JSONValue.object(report.metrics.mapValues(JSONValue.double)).write(to: folder.appendingPathComponent("metrics.json"))
        try JSONValue.object(report.details).write(to: folder.appendingPathComponent("details.json"))
        try JSONValue.object(report.histograms).write(to: folder.appendingPathComponent("histograms.json"))
    }
}
