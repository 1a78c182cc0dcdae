import BPETokenizer
import PipeKit

/// The monitor's findings: the `drift.*` metrics, `details.json` (per-token and per-feature
/// values) and `histograms.json` (the counts and samples every distance was computed from).
struct DriftReport {
    var metrics: [String: Double] = [:]
    var details: [String: JSONValue] = [:]
    var histograms: [String: JSONValue] = [:]

    /// Sizes and model-free measures of each side, always reported.
    mutating func addSides(reference: SideProfile, current: SideProfile, seen: [Int]) {
        for (name, side, total) in [("reference", reference, seen[0]), ("current", current, seen[1])] {
            metrics["drift.\(name).documents"] = Double(side.documents)
            metrics["drift.\(name).tokens"] = Double(side.tokens)
            metrics["drift.\(name).bytes"] = Double(side.bytes)
            if let tpb = side.tokensPerByte { metrics["drift.\(name).tokens_per_byte"] = tpb }
            details[name] = .object([
                "documents": .int(Int64(side.documents)), "documents_read": .int(Int64(total)),
                "tokens": .int(Int64(side.tokens)), "bytes": .int(Int64(side.bytes)),
                "tokens_per_byte": side.tokensPerByte.map(JSONValue.double) ?? .null,
                "mean_bytes": .double(Double(side.bytes) / Double(max(1, side.documents))),
                "languages": .object(side.languageShares.mapValues(JSONValue.double)),
            ])
            histograms[name] = .object([
                "token_counts": .array(side.tokenCounts.map { .int(Int64($0)) }),
                "lengths": .array(side.lengths.map(JSONValue.double)),
                "languages": .object(side.languageCounts.mapValues { .int(Int64($0)) }),
            ])
        }
    }

    /// Jensen-Shannon divergence and PSI of the token distributions, and the ratio of tokens per byte.
    mutating func addTokenShift(reference: SideProfile, current: SideProfile, tokenizer: Tokenizer, psiBins: Int,
                                epsilon: Double, topTokens: Int)
    {
        func piece(_ id: Int) -> JSONValue { .string(tokenizer.piece(Int32(id))) }
        let totalP = Double(max(1, reference.tokens)), totalQ = Double(max(1, current.tokens))
        if let js = DriftStatistics.jensenShannon(reference.tokenCounts, current.tokenCounts) {
            metrics["drift.token_js"] = js.value
            let top = js.terms.indices.sorted { js.terms[$0] != js.terms[$1] ? js.terms[$0] > js.terms[$1] : $0 < $1 }.prefix(topTokens)
            details["token_js"] = .object([
                "value": .double(js.value),
                "formula": .string("sum over tokens of 1/2 P log2(P/M) + 1/2 Q log2(Q/M), M = (P+Q)/2; scipy's jensenshannon(base=2) squared"),
                "top_contributors": .array(top.map { id in
                    .object(["id": .int(Int64(id)), "piece": piece(id), "contribution": .double(js.terms[id]),
                             "reference_share": .double(Double(reference.tokenCounts[id]) / totalP),
                             "current_share": .double(Double(current.tokenCounts[id]) / totalQ)])
                }),
            ])
        }
        if let psi = DriftStatistics.populationStability(reference.tokenCounts, current.tokenCounts, k: psiBins, epsilon: epsilon) {
            metrics["drift.token_psi"] = psi.value
            details["token_psi"] = .object([
                "value": .double(psi.value), "bins": .int(Int64(psiBins)), "epsilon": .double(epsilon),
                "formula": .string("sum over the top-K reference tokens and one other bin of (q - p) ln(q / p); an empty share counts as epsilon"),
                "per_bin": .array(psi.bins.map { bin in
                    .object(["id": bin.id.map { .int(Int64($0)) } ?? .null, "piece": bin.id.map(piece) ?? .string("(other)"),
                             "reference_share": .double(bin.referenceShare), "current_share": .double(bin.currentShare),
                             "term": .double(bin.term)])
                }),
            ])
        }
        if let r = reference.tokensPerByte, let c = current.tokensPerByte, r > 0 {
            metrics["drift.tokens_per_byte_ratio"] = c / r
        }
    }

    /// The Wasserstein distance of document lengths over the reference's mean length, and a histogram of both.
    mutating func addLengthShift(reference: SideProfile, current: SideProfile, bins: Int) {
        guard let distance = DriftStatistics.wasserstein(reference.lengths, current.lengths) else { return }
        let mean = Double(reference.bytes) / Double(reference.documents)
        if mean > 0 { metrics["drift.length_wasserstein"] = distance / mean }
        let top = max(reference.lengths.max() ?? 0, current.lengths.max() ?? 0)
        let width = max(1, (top / Double(bins)).rounded(.up))
        func histogram(_ lengths: [Double]) -> JSONValue {
            var counts = [Int64](repeating: 0, count: bins)
            for l in lengths { counts[min(bins - 1, Int(l / width))] += 1 }
            return .array(counts.map(JSONValue.int))
        }
        details["length"] = .object([
            "wasserstein_bytes": .double(distance), "reference_mean_bytes": .double(mean),
            "normalised": mean > 0 ? .double(distance / mean) : .null,
            "histogram": .object(["edges": .array((0...bins).map { .double(Double($0) * width) }),
                                  "reference": histogram(reference.lengths), "current": histogram(current.lengths)]),
        ])
    }

    /// The total variation distance between the two sides' language mixes.
    mutating func addLanguageShift(reference: SideProfile, current: SideProfile) {
        let shift = DriftStatistics.totalVariation(reference.languageShares, current.languageShares)
        metrics["drift.language_shift"] = shift
        details["language"] = .object([
            "total_variation": .double(shift),
            "reference": .object(reference.languageShares.mapValues(JSONValue.double)),
            "current": .object(current.languageShares.mapValues(JSONValue.double)),
        ])
    }

    /// The model's bits per byte on both sides and the bootstrap interval of their difference.
    mutating func addBitsPerByte(_ b: RatioDelta, scored: [Int], resamples: Int, confidence: Double, seed: Int) {
        metrics["drift.reference.bits_per_byte"] = b.reference
        metrics["drift.current.bits_per_byte"] = b.current
        metrics["drift.bits_per_byte_delta"] = b.delta
        metrics["drift.bits_per_byte_delta_low"] = b.low
        metrics["drift.bits_per_byte_delta_high"] = b.high
        details["bits_per_byte"] = .object([
            "reference": .double(b.reference), "current": .double(b.current), "delta": .double(b.delta),
            "interval": .array([.double(b.low), .double(b.high)]), "confidence": .double(confidence),
            "resamples": .int(Int64(resamples)), "seed": .int(Int64(seed)),
            "scored_documents": .object(["reference": .int(Int64(scored[0])), "current": .int(Int64(scored[1]))]),
        ])
    }

    /// The share of documents each side's clean run rejected, overall and per filter.
    mutating func addRejectRates(reference: CleanRejects, current: CleanRejects) {
        func side(_ r: CleanRejects) -> JSONValue {
            .object([
                "documents": .int(Int64(r.documents)), "rejected": .int(Int64(r.rejected)), "rate": r.rate.map(JSONValue.double) ?? .null,
                "filters": .object(r.filters.mapValues { f in
                    .object(["seen": .int(Int64(f.seen)), "rejected": .int(Int64(f.rejected)),
                             "rate": f.seen > 0 ? .double(Double(f.rejected) / Double(f.seen)) : .null])
                }),
            ])
        }
        details["reject_rate"] = .object(["reference": side(reference), "current": side(current)])
        guard let r = reference.rate, let c = current.rate else { return }
        metrics["drift.reference.reject_rate"] = r
        metrics["drift.current.reject_rate"] = c
        metrics["drift.reject_rate_delta"] = c - r
    }

    /// The size of each window of served requests, always reported.
    mutating func addRequestCounts(earlier: RequestWindow, current: RequestWindow, logged: Int, window: Int) {
        metrics["drift.earlier.requests"] = Double(earlier.requests)
        metrics["drift.current.requests"] = Double(current.requests)
        details["requests"] = .object(["logged": .int(Int64(logged)), "window": .int(Int64(window))])
    }

    /// What changed between the earlier and the current window of served requests: the mean
    /// log-probability of generated tokens (with its bootstrap interval), the share of answers
    /// cut at their token limit, and latency percentiles.
    mutating func addRequestShift(earlier: RequestWindow, current: RequestWindow, logprob: RatioDelta?, resamples: Int,
                              confidence: Double, seed: Int)
    {
        var windows: [String: JSONValue] = [:], samples: [String: JSONValue] = [:]
        for (name, w) in [("earlier", earlier), ("current", current)] {
            var summary: [String: JSONValue] = [
                "requests": .int(Int64(w.requests)), "length_stops": .double(w.lengthStops),
                "finish_reasons": .object(w.finishReasons.mapValues { .int(Int64($0)) }),
                "mean_logprob": w.meanLogprob.map(JSONValue.double) ?? .null,
            ]
            metrics["drift.\(name).length_stops"] = w.lengthStops
            if let m = w.meanLogprob { metrics["drift.\(name).mean_logprob"] = m }
            for (label, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
                if let v = w.latencies.sortedQuantile(q) { metrics["drift.\(name).latency_ms_\(label)"] = v; summary["latency_ms_\(label)"] = .double(v) }
                if let v = w.timesToFirstToken.sortedQuantile(q) { metrics["drift.\(name).ttft_ms_\(label)"] = v; summary["ttft_ms_\(label)"] = .double(v) }
            }
            windows[name] = .object(summary)
            samples[name] = .object([
                "latency_ms": .array(w.latencies.map(JSONValue.double)),
                "ttft_ms": .array(w.timesToFirstToken.map(JSONValue.double)),
                "logprob_sums": .array(w.logprobs.map { .double($0.amount) }),
                "generated_tokens": .array(w.logprobs.map { .double($0.weight) }),
            ])
        }
        metrics["drift.length_stops_delta"] = current.lengthStops - earlier.lengthStops
        for label in ["p50", "p90"] {
            if let e = metrics["drift.earlier.latency_ms_\(label)"], let c = metrics["drift.current.latency_ms_\(label)"], e > 0 {
                metrics["drift.latency_\(label)_ratio"] = c / e
            }
        }
        if let logprob {
            metrics["drift.mean_logprob_delta"] = logprob.delta
            metrics["drift.mean_logprob_delta_low"] = logprob.low
            metrics["drift.mean_logprob_delta_high"] = logprob.high
            windows["mean_logprob_delta"] = .object([
                "delta": .double(logprob.delta), "interval": .array([.double(logprob.low), .double(logprob.high)]),
                "confidence": .double(confidence), "resamples": .int(Int64(resamples)), "seed": .int(Int64(seed)),
            ])
        }
        details["request_shift"] = .object(windows)
        histograms["requests"] = .object(samples)
    }
}
