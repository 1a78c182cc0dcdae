import Foundation
import Hummingbird
import NIOCore

/// The context of one request: its id (set by `RequestIDMiddleware`), when it arrived, and the
/// connection it came on (whose closing cancels the request's sequences).
public struct ServeContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection; `closeFuture` completes when the client goes away.
    public let channel: any Channel
    public var requestID = ""
    public let arrived = Date()

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
