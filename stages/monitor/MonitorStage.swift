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
        @Param("seed of the document sample and the bootstraps") var seed = 0
        @Param("pipe serve's request log (--log FILE): its last request_window requests against the request_window before them") var request_log: String? = nil
        @Param("requests in each window of the request log", range: .positive) var request_window = 1000
        @Param("fewer requests than this in either window: the stage cannot judge the served requests", range: .positive) var min_requests = 50
        @Param("longest request log line in bytes (a line holds the prompt and completion with --log-text)", range: .positive) var max_line_bytes = 16 << 20
        public init() {}
    }

    public static let name = "monitor"
    public static let version = 1
    public static let summary = "Measure drift of current documents from reference documents (tokens, bits per byte, lengths, languages, clean rejects) and of served requests, and gate on it."
    public static let inputs = [
        StagePort("reference", .documents, optional: true, doc: "what the model was trained on (or a window known to be good)"),
        StagePort("current", .documents, optional: true, doc: "fresh documents: a new collect, or a request log read as documents"),
        StagePort("tokenizer", .tokenizer, optional: true, doc: "the model's tokenizer (needed with documents): token distributions are over its ids"),
        StagePort("model", .model, optional: true, doc: "the deployed model; without it there is no bits-per-byte drift"),
        StagePort("reference_clean", .metrics, optional: true, doc: "the stats of the clean stage that made the reference documents"),
        StagePort("current_clean", .metrics, optional: true, doc: "the stats of the same filters run over the fresh documents: the reject rates' difference"),
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

    public static func externalInputs(_ p: Params) -> [ExternalInput] {
        p.request_log.map { [ExternalInput(path: $0)] } ?? []
    }

    public init() {}

    public func run(_ p: Params, _ context: StageContext) async throws {
        let documents = try Self.wiredPair(context, "reference", "current")
        let cleanStats = try Self.wiredPair(context, "reference_clean", "current_clean")
        guard documents != nil || cleanStats != nil || p.request_log != nil else {
            throw StageError("monitor has nothing to compare: wire reference and current documents (with a tokenizer), reference_clean and current_clean stats, or set request_log")
        }
        guard documents != nil || context.optionalInput("model") == nil else {
            throw StageError("a model input needs reference and current documents to score")
        }
        var report = DriftReport()
        var unjudged: [String] = []
        if let (reference, current) = documents {
            if let reason = try measureDocuments(p, reference: reference, current: current, into: &report, context: context) {
                unjudged.append(reason)
            }
        }
        if let (reference, current) = cleanStats {
            let sides = try [(reference, "reference_clean"), (current, "current_clean")].map { try CleanRejects.read($0, side: $1) }
            if sides[0].filters.keys.sorted() != sides[1].filters.keys.sorted() {
                context.warn("reference_clean and current_clean ran different filters (\(sides[0].filters.keys.sorted().joined(separator: ", ")) against \(sides[1].filters.keys.sorted().joined(separator: ", "))): their reject rates do not compare")
            }
            report.addRejectRates(reference: sides[0], current: sides[1])
            if let short = zip(["reference_clean", "current_clean"], sides).first(where: { $1.documents < p.min_documents }) {
                unjudged.append("\(short.0) counts \(short.1.documents) documents (min_documents \(p.min_documents))")
                report.metrics["drift.reject_rate_delta"] = nil
            }
        }
        if let log = p.request_log {
            if let reason = try measureRequests(p, log: URL(fileURLWithPath: log, relativeTo: context.workspace), into: &report, context: context) {
                unjudged.append(reason)
            }
        }
        let reason = unjudged.isEmpty ? nil : "cannot judge drift: " + unjudged.joined(separator: "; ")
        report.details["judged"] = .bool(reason == nil)
        if let reason { report.details["reason"] = .string(reason) }
        let out = try context.output("drift")
        try write(report, to: out, context: context)
        let gates = Gates(p.gates, mode: p.gate)
        // Unmet gates carry the reason in their failure or warning; with none unmet, it is said here.
        if let reason, gates.check(report.metrics).allSatisfy(\.met) { context.warn(reason) }
        try gates.enforce(report.metrics, context: context, into: out, preface: reason)
    }

    /// Both inputs of a pair, nil when neither is wired, an error when only one is.
    private static func wiredPair(_ context: StageContext, _ first: String, _ second: String) throws
        -> (any ArtifactReading, any ArtifactReading)?
    {
        switch (context.optionalInput(first), context.optionalInput(second)) {
        case (let a?, let b?): return (a, b)
        case (nil, nil): return nil
        default: throw StageError("wire both \(first) and \(second), or neither")
        }
    }

    /// Token, length, language and (with a model) bits-per-byte drift of the documents; the
    /// reason they cannot be judged when a side is too small.
    private func measureDocuments(_ p: Params, reference: any ArtifactReading, current: any ArtifactReading,
                                  into report: inout DriftReport, context: StageContext) throws -> String?
    {
        guard let tokenizerInput = context.optionalInput("tokenizer") else {
            throw StageError("documents are compared through the model's tokenizer: wire the tokenizer input")
        }
        let tokenizer = try Tokenizer(contentsOf: tokenizerInput.materialize(into: context.scratch.appendingPathComponent("tokenizer")))
        let identifier = LanguageIdentifier()
        var samples: [DocumentSample] = [], sides: [SideProfile] = []
        for (n, (name, input)) in [("reference", reference), ("current", current)].enumerated() {
            context.progress(Double(n) / 4, "reading \(name)")
            let sample = try DocumentSample.read(input, folder: context.scratch.appendingPathComponent(name),
                                                 limit: p.max_documents, maxBytes: p.max_bytes, seed: UInt64(p.seed) &+ UInt64(n), side: name)
            samples.append(sample)
            sides.append(SideProfile(texts: sample.texts, tokenizer: tokenizer, identifier: identifier))
            context.log("\(name): \(sample.texts.count) of \(sample.seen) documents, \(sides[n].tokens) tokens, \(sides[n].bytes) bytes")
        }
        report.addSides(reference: sides[0], current: sides[1], seen: samples.map(\.seen))
        let short = zip(["reference", "current"], sides).compactMap { name, side -> String? in
            if side.documents < p.min_documents { return "\(name) has \(side.documents) documents (min_documents \(p.min_documents))" }
            if side.tokens < p.min_tokens { return "\(name) has \(side.tokens) tokens (min_tokens \(p.min_tokens))" }
            return nil
        }
        if !short.isEmpty { return short.joined(separator: "; ") }
        report.addTokenShift(reference: sides[0], current: sides[1], tokenizer: tokenizer, psiBins: p.psi_bins,
                             epsilon: p.psi_epsilon, topTokens: p.top_tokens)
        report.addLengthShift(reference: sides[0], current: sides[1], bins: p.length_bins)
        report.addLanguageShift(reference: sides[0], current: sides[1])
        if let modelInput = context.optionalInput("model") {
            try measureBitsPerByte(p, model: modelInput, tokenizer: tokenizer, sides: sides, into: &report, context: context)
        } else {
            context.log("no model input: no bits-per-byte drift")
        }
        return nil
    }

    /// The served requests' drift between the log's last two windows; the reason it cannot be
    /// judged when a window is too small.
    private func measureRequests(_ p: Params, log: URL, into report: inout DriftReport, context: StageContext) throws -> String? {
        context.progress(nil, "reading the request log")
        let served = try ServedRequests.read(log, window: p.request_window, maxLineBytes: p.max_line_bytes)
        let earlier = RequestWindow(served.earlier), current = RequestWindow(served.current)
        context.log("request log: \(served.logged) requests; windows of \(earlier.requests) and \(current.requests)")
        report.addRequestCounts(earlier: earlier, current: current, logged: served.logged, window: p.request_window)
        if earlier.requests < p.min_requests {
            return "the request log's earlier window has \(earlier.requests) requests (min_requests \(p.min_requests); \(served.logged) logged, request_window \(p.request_window))"
        }
        let logprob = RatioDelta.measure(reference: earlier.logprobs, current: current.logprobs, scale: 1, resamples: p.resamples,
                                         confidence: p.confidence, seed: UInt64(p.seed) &+ 2)
        report.addRequestShift(earlier: earlier, current: current, logprob: logprob, resamples: p.resamples, confidence: p.confidence, seed: p.seed)
        return nil
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
        guard let delta = RatioDelta.measure(reference: losses[0], current: losses[1], scale: RatioDelta.bitsPerByteScale, resamples: p.resamples,
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
