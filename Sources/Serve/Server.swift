import Foundation
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// `pipe serve`'s server: Hummingbird on `settings.host:port` with the routes of `Routes`. It
/// listens at once (`/health` answers 503 while `load` runs on a thread of its own), prints
/// `listening on http://HOST:PORT` on standard error, and on SIGTERM or SIGINT stops accepting,
/// lets running requests finish for up to `drainTimeout` seconds, then cancels the rest. Slow
/// or oversized request bodies are cut off by `RequestDeadlineHandler`.
public struct Server: Sendable {
    public let settings: ServerSettings

    public init(settings: ServerSettings) { self.settings = settings }

    /// Runs until a signal; throws what the supply's first load threw (after shutting down).
    /// A supply that can change is checked for a newer model once the first has loaded.
    public func run(_ supply: ModelSupply) async throws {
        let state = ServerState(settings: settings)
        let reloader = supply.newer.map { ModelReloader(state: state, newer: $0, interval: supply.interval) }
        var logger = Logger(label: "pipe-serve")
        logger.logLevel = .warning
        let loading = LoadFailure()
        let app = Application(
            router: Routes.router(state),
            server: .http1(configuration: .init(additionalChannelHandlers: [RequestDeadlineHandler(timeout: Self.time(settings.requestTimeout))],
                                                idleTimeout: Self.time(settings.idleTimeout))),
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "pipe"),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                FileHandle.standardError.write(Data("listening on http://\(settings.host):\(port)\n".utf8))
                Thread.detachNewThread {
                    do {
                        let model = try supply.load()
                        model.engine.start()
                        state.setModel(model)
                        reloader?.start()
                    } catch {
                        loading.fail(error)
                    }
                }
            },
            logger: logger)
        var configuration = ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = .milliseconds(Int64(settings.drainTimeout * 1000))
        let serviceGroup = ServiceGroup(configuration: configuration)
        loading.group = serviceGroup
        try await serviceGroup.run()
        reloader?.stop()
        state.model?.engine.stop()
        if let error = loading.error { throw error }
    }

    private static func time(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }
}

/// Why the model failed to load, and the service group to shut down when it does.
private final class LoadFailure: Sendable {
    private let state = Mutex<(error: (any Error)?, group: ServiceGroup?)>((nil, nil))

    var error: (any Error)? { state.withLock { $0.error } }

    var group: ServiceGroup? {
        get { state.withLock { $0.group } }
        set { state.withLock { $0.group = newValue } }
    }

    func fail(_ error: any Error) {
        let group = state.withLock {
            $0.error = error
            return $0.group
        }
        Task { await group?.triggerGracefulShutdown() }
    }
}
