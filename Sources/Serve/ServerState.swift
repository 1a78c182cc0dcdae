import Foundation
import Hummingbird
import NIOCore
import Synchronization

/// What every handler shares: the settings, the metrics, the request log, and the model once
/// it has loaded (until then generation routes and `/health` answer 503).
final class ServerState: Sendable {
    let settings: ServerSettings
    let metrics = ServerMetrics()
    private let loaded = Mutex<ServedModel?>(nil)

    init(settings: ServerSettings) { self.settings = settings }

    var model: ServedModel? { loaded.withLock { $0 } }

    func setModel(_ model: ServedModel) { loaded.withLock { $0 = model } }

    /// Makes `model` the one new requests get; returns the one it replaces.
    func replaceModel(with model: ServedModel) -> ServedModel? {
        loaded.withLock {
            let old = $0
            $0 = model
            return old
        }
    }

    /// The model, or a 503 while it loads.
    func readyModel() throws(APIError) -> ServedModel {
        guard let model else { throw .overloaded("the model is still loading") }
        return model
    }

    /// A request's `model` must name the served model (or be absent).
    func check(modelName: String?, _ model: ServedModel) throws(APIError) {
        guard let name = modelName, name != model.name else { return }
        throw APIError(.notFound, "the model '\(name)' does not exist; this server serves '\(model.name)'", type: "invalid_request_error",
                       param: "model", code: "model_not_found")
    }

    /// The request body, at most `maxBodyBytes` (a declared or actual larger body is a 413; one
    /// cut off on the way is a 400).
    func body(of request: Request) async throws -> Data {
        let limit = settings.maxBodyBytes
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > limit { throw APIError.tooLarge(limit) }
        do {
            return Data(try await request.body.collect(upTo: limit).readableBytesView)
        } catch is NIOTooManyBytesError {
            throw APIError.tooLarge(limit)
        } catch {
            throw APIError.bodyIncomplete(error)
        }
    }

    /// Writes a request's log line, if there is a log; a failed write is reported, not fatal.
    func log(_ entry: RequestLog.Entry, context: ServeContext) {
        guard let log = settings.requestLog else { return }
        do {
            try log.write(entry)
        } catch {
            context.logger.error("request log: \(error)")
        }
    }
}
