import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PipeKit

/// An error answered in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, with
/// its HTTP status: 4xx for the client's mistakes (so clients do not retry them), 503 with
/// `Retry-After` when the server is busy or loading, 500 only for the server's own faults.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds a client should wait before retrying (503 only).
    public var retryAfter: Int?
    /// Whether the server closes the connection after answering (a body it will not read).
    public var closesConnection = false

    public init(_ status: HTTPResponse.Status, _ message: String, type: String, param: String? = nil, code: String? = nil,
                retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// A request the server cannot accept as it is (400).
    static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(.badRequest, message, type: "invalid_request_error", param: param, code: code)
    }

    static func contextLengthExceeded(_ message: String) -> APIError {
        APIError(.badRequest, message, type: "invalid_request_error", param: "max_tokens", code: "context_length_exceeded")
    }

    static let unauthorized = APIError(.unauthorized, "a valid API key is required (Authorization: Bearer KEY)",
                                       type: "invalid_request_error", code: "invalid_api_key")

    static func notFound(_ path: String) -> APIError {
        APIError(.notFound, "no route for \(path)", type: "invalid_request_error", code: "not_found")
    }

    static func tooLarge(_ limit: Int) -> APIError {
        var error = APIError(.contentTooLarge, "the request body is over \(limit) bytes", type: "invalid_request_error", code: "request_too_large")
        error.closesConnection = true
        return error
    }

    static func requestTimeout(_ timeout: TimeAmount) -> APIError {
        APIError(.requestTimeout, "the request body did not arrive within \(Double(timeout.nanoseconds) / 1e9) seconds",
                 type: "invalid_request_error", code: "request_timeout")
    }

    /// A body that ended before its declared length (the client went away or was cut off).
    static func bodyIncomplete(_ error: any Error) -> APIError {
        APIError(.badRequest, "the request body ended early: \(error)", type: "invalid_request_error", code: "body_incomplete")
    }

    static func overloaded(_ message: String) -> APIError {
        APIError(.serviceUnavailable, message, type: "server_error", code: "overloaded", retryAfter: 1)
    }

    static func server(_ message: String) -> APIError {
        APIError(.internalServerError, message, type: "server_error")
    }

    /// The error's JSON body.
    var json: JSONValue {
        .object(["error": .object([
            "message": .string(message), "type": .string(type),
            "param": param.map(JSONValue.string) ?? .null, "code": code.map(JSONValue.string) ?? .null,
        ])])
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if closesConnection { headers[.connection] = "close" }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: json.canonicalJSON)))
    }
}
