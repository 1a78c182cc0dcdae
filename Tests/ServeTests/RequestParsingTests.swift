import BPETokenizer
import Foundation
import PipeKit
import XCTest
@testable import Serve

/// Request bodies: each mistake a 400 naming its field, each accepted shape read as meant.
final class RequestParsingTests: XCTestCase {
    private func completion(_ json: String) throws -> CompletionRequest {
        try CompletionRequest(RequestFields(body: Data(json.utf8)))
    }

    private func assertInvalid(_ json: String, param: String?, file: StaticString = #filePath, line: UInt = #line) {
        do {
            _ = try completion(json)
            XCTFail("accepted \(json)", file: file, line: line)
        } catch let error as APIError {
            XCTAssertEqual(error.status.code, 400, file: file, line: line)
            XCTAssertEqual(error.param, param, error.message, file: file, line: line)
        } catch {
            XCTFail("\(error)", file: file, line: line)
        }
    }

    func testPromptShapes() throws {
        func shapes(_ prompt: String) throws -> [String] {
            try completion("{\"prompt\": \(prompt)}").prompts.map {
                switch $0 {
                case .text(let t): "text:\(t)"
                case .tokens(let ids): "ids:\(ids.map(String.init).joined(separator: ","))"
                }
            }
        }
        XCTAssertEqual(try shapes("\"hi\""), ["text:hi"])
        XCTAssertEqual(try shapes("[\"a\", \"b\"]"), ["text:a", "text:b"])
        XCTAssertEqual(try shapes("[1, 2, 3]"), ["ids:1,2,3"])
        XCTAssertEqual(try shapes("[[1], [2, 3]]"), ["ids:1", "ids:2,3"])
    }

    func testOptionsAreReadWithTheirDefaults() throws {
        let request = try completion("""
        {"prompt": "x", "max_tokens": 5, "temperature": 0, "top_p": 0.5, "top_k": -1, "seed": 7, "stop": "\\n",
         "n": 2, "stream": true, "stream_options": {"include_usage": true}, "logprobs": 3, "echo": true}
        """)
        XCTAssertEqual(request.options.maxTokens, 5)
        XCTAssertEqual(request.options.sampling.temperature, 0)
        XCTAssertEqual(request.options.sampling.topK, 0)
        XCTAssertEqual(request.options.sampling(choice: 1, topLogprobs: 3).seed, 8)
        XCTAssertEqual(request.options.stops, ["\n"])
        XCTAssertEqual(request.options.n, 2)
        XCTAssertTrue(request.options.stream && request.options.includeUsage && request.echo)
        XCTAssertEqual(request.logprobs, 3)
        let plain = try completion("{\"prompt\": \"x\", \"max_tokens\": null}")
        XCTAssertNil(plain.options.maxTokens)
        XCTAssertEqual(plain.options.sampling.temperature, 1)
    }

    func testMistakesAre400sNamingTheField() {
        assertInvalid("{\"prompt\": \"x\", \"max_tokens\": -1}", param: "max_tokens")
        assertInvalid("{\"prompt\": \"x\", \"max_tokens\": \"5\"}", param: "max_tokens")
        assertInvalid("{\"prompt\": \"x\", \"max_tokens\": 1e30}", param: "max_tokens")
        assertInvalid("{\"prompt\": \"x\", \"temperature\": 3}", param: "temperature")
        assertInvalid("{\"prompt\": \"x\", \"logprobs\": 6}", param: "logprobs")
        assertInvalid("{\"prompt\": \"x\", \"stop\": [1]}", param: "stop")
        assertInvalid("{\"prompt\": \"x\", \"n\": 0}", param: "n")
        assertInvalid("{\"prompt\": \"x\", \"stream\": \"yes\"}", param: "stream")
        assertInvalid("{\"prompt\": 5}", param: "prompt")
        assertInvalid("{\"prompt\": [[1, \"a\"]]}", param: "prompt")
        assertInvalid("{}", param: "prompt")
        assertInvalid("{\"prompt\": \"x\"", param: nil)
        assertInvalid("[1]", param: nil)
    }

    func testInvalidUTF8IsA400() {
        var body = Data("{\"prompt\": \"".utf8)
        body.append(contentsOf: [0xFF, 0xFE])
        body.append(contentsOf: Array("\"}".utf8))
        XCTAssertThrowsError(try CompletionRequest(RequestFields(body: body))) { XCTAssertEqual(($0 as? APIError)?.status.code, 400) }
    }

    func testChatMessagesAsStringsOrTextParts() throws {
        let request = try ChatRequest(RequestFields(body: Data("""
        {"messages": [{"role": "developer", "content": "be brief"}, {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}],
         "max_completion_tokens": 4, "max_tokens": 9, "logprobs": true, "top_logprobs": 2}
        """.utf8)))
        XCTAssertEqual(request.messages, [ChatMessage(role: "system", content: "be brief"), ChatMessage(role: "user", content: "ab")])
        XCTAssertEqual(request.options.maxTokens, 4)
        XCTAssertTrue(request.logprobs)
        XCTAssertEqual(request.topLogprobs, 2)
        XCTAssertThrowsError(try ChatRequest(RequestFields(body: Data("{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}".utf8))))
        XCTAssertThrowsError(try ChatRequest(RequestFields(body: Data("{\"messages\": []}".utf8))))
    }
}
