import BPETokenizer
import Foundation
import PipeKit
import XCTest
@testable import Serve

/// The chat template, the error shape and the Prometheus text.
final class ServeFormatTests: XCTestCase {
    func testChatTemplateRendersEachRoleThenTheGenerationPrompt() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-template-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        XCTAssertNil(try ChatTemplate.lookup(tokenizer: folder.appendingPathComponent("tokenizer.json")))
        try Data("""
        {"eos_token": "<|endoftext|>", "pipe_chat_template": {"system": "S:{content}\\n", "user": "U:{content}\\n", "assistant": "A:{content}\\n", "generation_prompt": "A:"}}
        """.utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        let template = try XCTUnwrap(try ChatTemplate.lookup(tokenizer: folder))
        XCTAssertEqual(try template.render([ChatMessage(role: "system", content: "s"), ChatMessage(role: "user", content: "u"),
                                        ChatMessage(role: "assistant", content: "a"), ChatMessage(role: "user", content: "v")]),
                       "S:s\nU:u\nA:a\nU:v\nA:")
        try Data("{\"pipe_chat_template\": {\"system\": 1}}".utf8).write(to: folder.appendingPathComponent("tokenizer_config.json"))
        XCTAssertThrowsError(try ChatTemplate.lookup(tokenizer: folder))
    }

    func testErrorsHaveOpenAIsShape() {
        let error = APIError.contextLengthExceeded("too long")
        XCTAssertEqual(error.json.canonicalJSON,
                       #"{"error":{"code":"context_length_exceeded","message":"too long","param":"max_tokens","type":"invalid_request_error"}}"#)
        XCTAssertEqual(APIError.overloaded("busy").retryAfter, 1)
        XCTAssertEqual(APIError.overloaded("busy").status.code, 503)
    }

    func testHistogramIsCumulativeWithInfSumAndCount() {
        var histogram = Histogram(bounds: [0.1, 1])
        for value in [0.05, 0.5, 0.7, 3] { histogram.observe(value) }
        XCTAssertEqual(histogram.render("x", help: "h"), """
        # HELP x h
        # TYPE x histogram
        x_bucket{le="0.1"} 1
        x_bucket{le="1.0"} 3
        x_bucket{le="+Inf"} 4
        x_sum 4.25
        x_count 4

        """)
    }

    func testMetricsCountRequestsAndTokens() {
        let metrics = ServerMetrics()
        metrics.countRequest(endpoint: "/v1/completions", status: 200)
        metrics.countRequest(endpoint: "/v1/completions", status: 200)
        metrics.countRequest(endpoint: "/v1/completions", status: 400)
        metrics.countPrompt(5)
        metrics.countGenerated(7)
        metrics.modelReplaced()
        metrics.modelReplaced()
        metrics.modelRetired()
        let text = metrics.render(queueDepth: 2, activeSlots: 1, slots: 4)
        for line in ["pipe_requests_total{endpoint=\"/v1/completions\",status=\"200\"} 2", "pipe_requests_total{endpoint=\"/v1/completions\",status=\"400\"} 1",
                     "pipe_prompt_tokens_total 5", "pipe_generated_tokens_total 7", "pipe_queue_depth 2", "pipe_active_slots 1", "pipe_slots 4",
                     "pipe_model_reloads_total 2", "pipe_retiring_models 1", "pipe_time_to_first_token_seconds_count 0"] {
            XCTAssertTrue(text.contains(line + "\n"), line)
        }
    }
}
