import Foundation

/// How `pipe serve` runs: where it listens, who may call it, and its limits.
public struct ServerSettings: Sendable {
    public var host = "127.0.0.1"
    /// 0 binds any free port (printed once listening).
    public var port = 8080
    /// Accepted bearer keys; empty accepts every request.
    public var apiKeys: Set<String> = []
    /// The largest request body, in bytes (a larger one is a 413).
    public var maxBodyBytes = 4 << 20
    /// Sequences waiting for a slot at most; past it requests get a 503 with Retry-After.
    public var maxQueue = 64
    /// Seconds SIGTERM waits for running requests before cancelling them.
    public var drainTimeout = 30.0
    /// Seconds a connection may stay idle before it is closed: no request part arrived and no
    /// response is running (the bytes of an unfinished request head do not count).
    public var idleTimeout = 60.0
    /// Seconds a request's body may take to arrive after its head (past it: 408, closed).
    public var requestTimeout = 30.0
    public var requestLog: RequestLog?
    /// `POST /v1/feedback`'s file and memory of recent answers; nil turns the route off.
    public var feedback: FeedbackLog?

    public init() {}
}
