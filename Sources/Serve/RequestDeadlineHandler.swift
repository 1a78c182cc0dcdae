import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// One connection's guard against clients that send slowly or too much, between Hummingbird's
/// HTTP decoder and its request handling:
/// - a request's body must arrive within `timeout` of its head (a slowloris client that trickles
///   the body is answered 408, when no response has begun, and the connection is closed). Its
///   head is bounded by Hummingbird's idle timeout: bytes of an unfinished head are not activity.
/// - after a response that says `Connection: close` (a 413), the server closes its side at
///   once; the rest of the body is read and dropped (never buffered) until the client closes,
///   bounded by the same deadline, so the client gets the answer instead of a reset.
final class RequestDeadlineHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let timeout: TimeAmount
    private var deadline: Scheduled<Void>?
    /// Whether a response to the request being read has begun.
    private var responding = false
    private var closeAfterResponse = false

    init(timeout: TimeAmount) { self.timeout = timeout }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            responding = false
            deadline?.cancel()
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            deadline = context.eventLoop.scheduleTask(in: timeout) {
                let (handler, context) = loopBound.value
                handler.expire(context)
            }
        case .body:
            break
        case .end:
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head):
            responding = true
            closeAfterResponse = head.headerFields[.connection] == "close"
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            context.write(data, promise: promise)
            if closeAfterResponse {
                context.flush()
                context.close(mode: .output, promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    /// The body did not arrive in time: a 408 when nothing was answered yet, then the end.
    private func expire(_ context: ChannelHandlerContext) {
        deadline = nil
        if !responding {
            responding = true
            let body = APIError.requestTimeout(timeout).json.canonicalJSON
            let head = HTTPResponse(status: .requestTimeout, headerFields: [
                .contentType: "application/json", .contentLength: String(body.utf8.count), .connection: "close",
            ])
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            context.write(wrapOutboundOut(.body(ByteBuffer(string: body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.close(promise: nil)
    }
}
