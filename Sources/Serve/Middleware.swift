import Foundation
import HTTPTypes
import Hummingbird

/// Gives every request an id: the client's `X-Request-Id` when it sent a sane one, else a new
/// one; echoed on the response.
struct RequestIDMiddleware: RouterMiddleware {
    typealias Context = ServeContext

    static let header = HTTPField.Name("X-Request-Id")!

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        var context = context
        let sent = request.headers[Self.header].flatMap { $0.count <= 128 && $0.allSatisfy { $0.isASCII && !$0.isWhitespace } ? $0 : nil }
        context.requestID = sent ?? "req-" + UUID().uuidString.lowercased()
        var response = try await next(request, context)
        response.headers[Self.header] = context.requestID
        return response
    }
}

/// Counts each request by endpoint (the matched route, or `other`) and status.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        let route = context.endpointPath.flatMap { $0.hasPrefix("/") ? $0 : nil }
        metrics.countRequest(endpoint: route ?? "other", status: response.status.code)
        return response
    }
}

/// Answers every error in OpenAI's shape: `APIError` as it is, Hummingbird's own (no route, a
/// body too large) with their status, anything else as a 500.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = ServeContext

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return try error.response(from: request, context: context)
        } catch let error as HTTPError {
            let apiError = error.status == .notFound ? APIError.notFound(request.uri.path)
                : APIError(error.status, error.body ?? error.status.reasonPhrase, type: "invalid_request_error")
            return try apiError.response(from: request, context: context)
        } catch {
            context.logger.error("request \(context.requestID): \(error)")
            return try APIError.server("internal error").response(from: request, context: context)
        }
    }
}

/// Requires `Authorization: Bearer KEY` with one of the keys, except on `/health` and
/// `/metrics` (probes and scrapers); no keys means no check.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ServeContext
    let keys: Set<String>
    static let open: Set<String> = ["/health", "/metrics"]

    func handle(_ request: Request, context: ServeContext, next: (Request, ServeContext) async throws -> Response) async throws -> Response {
        guard !keys.isEmpty, !Self.open.contains(request.uri.path) else { return try await next(request, context) }
        let header = request.headers[.authorization] ?? ""
        let given = Array(header.utf8.dropFirst("Bearer ".count))
        guard header.hasPrefix("Bearer "), keys.contains(where: { Self.equal(Array($0.utf8), given) }) else { throw APIError.unauthorized }
        return try await next(request, context)
    }

    /// Compares in time that depends only on the lengths, not on where the bytes differ.
    private static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.count == b.count && zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}
