@testable import MonitorStage
import PipeKit
import TokenScoring
import XCTest

/// The monitor's statistics on small inputs whose values are worked out by hand (scipy's and
/// numpy's agreement on real histograms is checked end to end by tests-python/drift_conformance.py).
final class DriftStatisticsTests: XCTestCase {
    func testJensenShannonIsZeroForEqualOneForDisjointAndKnownBetween() throws {
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.jensenShannon([2, 4, 0], [1, 2, 0])).value, 0, accuracy: 1e-15)
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.jensenShannon([3, 0], [0, 5])).value, 1, accuracy: 1e-15)
        // P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
        // JS = ½(½ log₂(2/3) + log₂(4/3)) + ½ · ½ log₂ 2 = 3/2 − 3/4 log₂ 3.
        let js = try XCTUnwrap(DriftStatistics.jensenShannon([1, 1], [4, 0]))
        XCTAssertEqual(js.value, 1.5 - 0.75 * log2(3), accuracy: 1e-15)
        XCTAssertEqual(js.terms.reduce(0, +), js.value, accuracy: 1e-15)
        XCTAssertEqual(js.terms[1], 0.25, accuracy: 1e-15, "½ · ½ log₂(½ / ¼)")
        XCTAssertNil(DriftStatistics.jensenShannon([0, 0], [1, 2]), "an empty side has no distribution")
    }

    func testPopulationStabilityOverTopBinsAndOther() throws {
        // Reference shares by id: 0: .1, 1: .5, 2: .4 (id 3 unseen); top 2 are ids 1 and 2, the rest is "other".
        let psi = try XCTUnwrap(DriftStatistics.populationStability([1, 5, 4, 0], [3, 4, 1, 2], k: 2, epsilon: 1e-4))
        XCTAssertEqual(psi.bins.map(\.id), [1, 2, nil])
        XCTAssertEqual(psi.bins.map(\.referenceShare), [0.5, 0.4, 0.1], accuracy: 1e-15)
        XCTAssertEqual(psi.bins.map(\.currentShare), [0.4, 0.1, 0.5], accuracy: 1e-15)
        let expected = (0.4 - 0.5) * log(0.4 / 0.5) + (0.1 - 0.4) * log(0.1 / 0.4) + (0.5 - 0.1) * log(0.5 / 0.1)
        XCTAssertEqual(psi.value, expected, accuracy: 1e-12)
        // A bin the current side never fills counts as epsilon, so the index stays finite.
        let empty = try XCTUnwrap(DriftStatistics.populationStability([1, 1], [2, 0], k: 1, epsilon: 0.01))
        XCTAssertEqual(empty.value, (1 - 0.5) * log(1 / 0.5) + (0.01 - 0.5) * log(0.01 / 0.5), accuracy: 1e-12)
        // Ties in the reference go to the lower id; k larger than the seen ids stops at them.
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.populationStability([2, 2, 0], [1, 1, 1], k: 5, epsilon: 1e-4)).bins.map(\.id), [0, 1, nil])
    }

    func testWassersteinOfSmallSamples() throws {
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.wasserstein([0, 1, 3], [5, 6, 8])), 5, accuracy: 1e-12, "a shift by 5")
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.wasserstein([1, 2], [1, 2, 2, 2])), 0.25, accuracy: 1e-12)
        // scipy.stats.wasserstein_distance([0, 1, 3], [5, 6, 8]) = 5; ([3.4, 3.9, 7.5, 7.8], [4.5, 1.4]) = 2.7.
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.wasserstein([3.4, 3.9, 7.5, 7.8], [4.5, 1.4])), 2.7, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(DriftStatistics.wasserstein([4, 4, 4], [4])), 0)
        XCTAssertNil(DriftStatistics.wasserstein([], [1]))
    }

    func testTotalVariationOfLanguageMixes() {
        XCTAssertEqual(DriftStatistics.totalVariation(["en": 0.9, "un": 0.1], ["en": 0.9, "un": 0.1]), 0)
        XCTAssertEqual(DriftStatistics.totalVariation(["en": 1], ["de": 1]), 1)
        XCTAssertEqual(DriftStatistics.totalVariation(["en": 0.8, "un": 0.2], ["en": 0.5, "de": 0.4, "un": 0.1]), 0.4, accuracy: 1e-15)
    }

    func testRatioDeltaAndItsSeededBootstrapInterval() throws {
        typealias D = RatioDelta.Part
        let bpb = RatioDelta.bitsPerByteScale
        let ln2 = log(2.0)
        // Reference: 1 bit per byte on every document; current: 2 on every document. Every resample agrees.
        let reference = (0..<20).map { _ in D(amount: 10 * ln2, weight: 10) }, current = (0..<30).map { _ in D(amount: 40 * ln2, weight: 20) }
        let exact = try XCTUnwrap(RatioDelta.measure(reference: reference, current: current, scale: bpb, resamples: 200, confidence: 0.95, seed: 1))
        XCTAssertEqual(exact.reference, 1, accuracy: 1e-12)
        XCTAssertEqual(exact.delta, 1, accuracy: 1e-12)
        XCTAssertEqual(exact.low, 1, accuracy: 1e-12)
        XCTAssertEqual(exact.high, 1, accuracy: 1e-12)
        // Varied documents: the interval holds the delta, and the same seed gives the same interval.
        var rng = SplitMix64(seed: 3)
        let varied = (0..<40).map { _ in D(amount: (1 + rng.nextUnit()) * 50 * ln2, weight: 50) }
        let a = try XCTUnwrap(RatioDelta.measure(reference: reference, current: varied, scale: bpb, resamples: 500, confidence: 0.9, seed: 7))
        let b = try XCTUnwrap(RatioDelta.measure(reference: reference, current: varied, scale: bpb, resamples: 500, confidence: 0.9, seed: 7))
        XCTAssertEqual(a, b)
        XCTAssertLessThan(a.low, a.delta)
        XCTAssertGreaterThan(a.high, a.delta)
        XCTAssertNil(RatioDelta.measure(reference: [D(amount: 1, weight: 0)], current: current, scale: bpb, resamples: 10, confidence: 0.9, seed: 0))
        // numpy.quantile([1, 2, 3, 4], [0.25, 0.9]) = [1.75, 3.7].
        XCTAssertEqual(try XCTUnwrap([1, 2, 3, 4].sortedQuantile(0.25)), 1.75, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap([1, 2, 3, 4].sortedQuantile(0.9)), 3.7, accuracy: 1e-12)
    }

    func testRequestLogWindowsAreTheLastTwoAndATornLastLineIsPassedOver() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("served-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        func line(_ n: Int, _ reason: String = "stop") -> String {
            "{\"completion_tokens\": \(n), \"finish_reason\": \"\(reason)\", \"latency_ms\": \(n * 10), \"ttft_ms\": null, \"mean_logprob\": -\(n).5}"
        }
        let log = folder.appendingPathComponent("requests.jsonl")
        // 25 requests: windows of 4 are requests 18-21 and 22-25, whatever the buffer kept before.
        try ((1...25).map { line($0, $0 % 2 == 0 ? "length" : "stop") }.joined(separator: "\n") + "\n\n" + "{\"completion_tok").write(to: log, atomically: true, encoding: .utf8)
        let served = try ServedRequests.read(log, window: 4, maxLineBytes: 1000)
        XCTAssertEqual(served.logged, 25)
        XCTAssertEqual(served.earlier.map(\.completionTokens), [18, 19, 20, 21])
        XCTAssertEqual(served.current.map(\.completionTokens), [22, 23, 24, 25])
        let current = RequestWindow(served.current)
        XCTAssertEqual(current.lengthStops, 0.5)
        XCTAssertEqual(current.latencies, [220, 230, 240, 250])
        XCTAssertTrue(current.timesToFirstToken.isEmpty)
        // Token-weighted: Σ(mean · tokens) / Σ tokens.
        let expected = -(22 * 22.5 + 23 * 23.5 + 24 * 24.5 + 25 * 25.5) / 94
        XCTAssertEqual(try XCTUnwrap(current.meanLogprob), expected, accuracy: 1e-12)
        // A bad line followed by more lines is an error naming it; so are numbers out of range.
        for (bad, message) in [("{\"completion_tok", "requests.jsonl:2: not a request log line"),
                               (line(3).replacingOccurrences(of: "-3.5", with: "0.5"), "mean_logprob must be a number at most 0"),
                               (line(3).replacingOccurrences(of: "\"latency_ms\": 30", with: "\"latency_ms\": -1"), "latency_ms must be a non-negative number")] {
            try ([line(1), bad, line(2)].joined(separator: "\n") + "\n").write(to: log, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try ServedRequests.read(log, window: 4, maxLineBytes: 1000)) {
                XCTAssertTrue("\($0)".contains(message), "\($0)")
            }
        }
        // A half-written last line that did get its newline is not torn: an error too.
        try (line(1) + "\n{\"completion_tok\n").write(to: log, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ServedRequests.read(log, window: 4, maxLineBytes: 1000))
    }

    func testDriftNamesAreInTheMetricContract() {
        for name in ["drift.token_js", "drift.token_psi", "drift.bits_per_byte_delta", "drift.bits_per_byte_delta_low",
                     "drift.length_wasserstein", "drift.language_shift", "drift.current.bits_per_byte", "drift.reference.documents",
                     "drift.reject_rate_delta", "drift.mean_logprob_delta_high", "drift.earlier.latency_ms_p90", "drift.current.reject_rate"]
        {
            XCTAssertNil(MetricName.problem(with: name), name)
        }
        XCTAssertNotNil(MetricName.problem(with: "drift.token_kl"))
        XCTAssertNotNil(MetricName.problem(with: "drift.future.tokens"))
        XCTAssertEqual(MetricName.range(of: "drift.token_js"), 0...1)
        XCTAssertEqual(MetricName.range(of: "drift.bits_per_byte_delta").lowerBound, -.infinity, "a model may do better on current text")
        let problems = MonitorStage.validate({
            var p = MonitorStage.Params()
            p.gates = ["drift.token_js": MetricBound(max: 2), "test.loss": MetricBound(max: 3)]
            return p
        }())
        XCTAssertEqual(problems.map(\.path), [["gates", "test.loss"]], "\(problems)")
    }
}

private func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, file: file, line: line) }
}
