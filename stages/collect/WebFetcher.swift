import CCurlGet
import Foundation
import PipeKit

/// What a fetch of one URL gave.
enum FetchOutcome: Sendable {
    case document(body: [UInt8], format: String, status: Int)
    case skipped(reason: String)
}

/// Fetches URLs politely: a User-Agent, robots.txt honoured (RFC 9309), a minimum interval
/// between requests to one host, an idle timeout and a total deadline per URL, retries with
/// exponential backoff on network errors, 429 and 5xx, and a size cap enforced as the body
/// arrives.
actor WebFetcher {
    /// The urls source: user_agent, timeout, deadline, retries, rate_limit, robots.
    private let source: CollectStage.Source
    private let maxBytes: Int
    private var nextSlot: [String: Date] = [:]
    private var robots: [String: RobotsRules] = [:]

    init(source: CollectStage.Source, maxBytes: Int) {
        self.source = source
        self.maxBytes = maxBytes
    }

    /// Waits until `host` may be asked again.
    private func reserve(_ host: String) async throws {
        let interval = 1 / max(source.rate_limit, 1e-6)
        let now = Date()
        let slot = max(now, nextSlot[host] ?? now)
        nextSlot[host] = slot.addingTimeInterval(interval)
        let wait = slot.timeIntervalSince(now)
        if wait > 0 { try await Task.sleep(nanoseconds: UInt64(wait * 1e9)) }
    }

    /// One URL: its first request waits for its turn at the host, and from then on the
    /// deadline bounds it, retries included. Returns (status, content type, body).
    private func get(_ url: URL) async throws -> (Int, String, Data) {
        try await reserve(url.host ?? "")
        return try await withDeadline(source.deadline) { try await self.attempts(url) }
    }

    /// Requests `url` (its turn already reserved), retrying; throws the last error.
    private func attempts(_ url: URL) async throws -> (Int, String, Data) {
        var attempt = 0
        while true {
            do {
                let response = try await HTTPGet.run(url, userAgent: source.user_agent, idleTimeout: source.timeout, maxBytes: maxBytes)
                if (response.status == 429 || response.status >= 500) && attempt < source.retries {
                    attempt += 1
                    try await backOff(attempt, url)
                    continue
                }
                return (response.status, response.contentType, response.body)
            } catch {
                if attempt >= source.retries || error is CancellationError || error is DownloadLimit { throw error }
                attempt += 1
                try await backOff(attempt, url)
            }
        }
    }

    /// Waits before retry number `attempt`: exponential backoff, then the host's turn.
    private func backOff(_ attempt: Int, _ url: URL) async throws {
        try await Task.sleep(nanoseconds: UInt64(0.25 * pow(2, Double(attempt)) * 1e9))
        try await reserve(url.host ?? "")
    }

    /// The robots rules of a URL's origin, fetched once per run.
    private func rules(for url: URL) async -> RobotsRules {
        let origin = "\(url.scheme ?? "http")://\(url.host ?? "")\(url.port.map { ":\($0)" } ?? "")"
        if let known = robots[origin] { return known }
        let parsed: RobotsRules
        if let robotsURL = URL(string: origin + "/robots.txt"), let (status, _, data) = try? await get(robotsURL) {
            switch status {
            case 200..<300: parsed = RobotsRules(String(decoding: data, as: UTF8.self), agent: source.user_agent)
            case 400..<500: parsed = .allowAll
            default: parsed = .disallowAll
            }
        } else {
            parsed = .disallowAll  // unreachable: RFC 9309 says assume complete disallow
        }
        robots[origin] = parsed
        return parsed
    }

    func fetch(_ text: String) async -> FetchOutcome {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https", url.host != nil else {
            return .skipped(reason: "not an http(s) URL")
        }
        if source.robots, !(await rules(for: url)).allows(url.path.isEmpty ? "/" : url.path + (url.query.map { "?" + $0 } ?? "")) {
            return .skipped(reason: "disallowed by robots.txt")
        }
        do {
            let (status, contentType, data) = try await get(url)
            guard (200..<300).contains(status) else { return .skipped(reason: "HTTP \(status)") }
            let type = contentType.lowercased()
            let format = type.contains("html") ? "html" : (type.hasPrefix("text/") || type.isEmpty ? "text" : "")
            guard !format.isEmpty else { return .skipped(reason: "content type \(contentType)") }
            return .document(body: [UInt8](data), format: format, status: status)
        } catch let limit as DownloadLimit {
            return .skipped(reason: limit.description)
        } catch {
            return .skipped(reason: "\(error)")
        }
    }
}

/// Why a download was cut short.
enum DownloadLimit: Error, CustomStringConvertible {
    /// The body passed this many bytes.
    case tooLarge(Int)
    /// The URL took longer than this many seconds.
    case deadline(Double)

    var description: String {
        switch self {
        case .tooLarge(let bytes): return "larger than \(bytes) bytes"
        case .deadline(let seconds): return "not complete within the deadline (\(String(format: "%g", seconds)) s)"
        }
    }
}

/// Runs `operation`, cancelling it and throwing `DownloadLimit.deadline` if it takes longer
/// than `seconds`.
func withDeadline<T: Sendable>(_ seconds: Double, _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(nanoseconds: UInt64(seconds * 1e9))
            throw DownloadLimit.deadline(seconds)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}

/// One GET through libcurl. The body is handed over piece by piece on the transferring thread,
/// so a body passing the cap stops the transfer right there and nothing piles up ahead of it
/// (FoundationNetworking's delegate queue has no backpressure: a fast endless body outgrew any
/// cap). The transfer also stops when fewer than one byte a second arrives for the idle
/// timeout, and when the calling task is cancelled (the deadline, Ctrl-C).
final class HTTPGet: @unchecked Sendable {
    /// What the server answered.
    struct Response {
        var status: Int
        var contentType: String
        var body: Data
    }

    /// A transfer that failed, with libcurl's reason.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let maxBytes: Int
    private let lock = NSLock()
    private var body = Data()
    private var tooLarge = false
    private var cancelled = false

    private init(maxBytes: Int) { self.maxBytes = maxBytes }

    static func run(_ url: URL, userAgent: String, idleTimeout: Double, maxBytes: Int) async throws -> Response {
        let transfer = HTTPGet(maxBytes: maxBytes)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                DispatchQueue.global().async {
                    continuation.resume(with: Result { try transfer.perform(url, userAgent: userAgent, idleTimeout: idleTimeout) })
                }
            }
        } onCancel: {
            transfer.lock.withLock { transfer.cancelled = true }
        }
    }

    /// Runs the transfer on this thread.
    private func perform(_ url: URL, userAgent: String, idleTimeout: Double) throws -> Response {
        var callbacks = pipe_curl_callbacks(
            on_body: { context, data, size in
                let transfer = Unmanaged<HTTPGet>.fromOpaque(context!).takeUnretainedValue()
                return transfer.receive(UnsafeRawBufferPointer(start: data, count: size)) ? 0 : 1
            },
            should_stop: { context in
                let transfer = Unmanaged<HTTPGet>.fromOpaque(context!).takeUnretainedValue()
                return transfer.lock.withLock { transfer.cancelled } ? 1 : 0
            },
            context: Unmanaged.passUnretained(self).toOpaque())
        var result = pipe_curl_result()
        withExtendedLifetime(self) {
            pipe_curl_get(url.absoluteString, userAgent, max(1, Int(idleTimeout.rounded(.up))), &callbacks, &result)
        }
        let (tooLarge, cancelled) = lock.withLock { (self.tooLarge, self.cancelled) }
        if tooLarge { throw DownloadLimit.tooLarge(maxBytes) }
        if cancelled { throw CancellationError() }
        guard result.code == 0 else {
            throw Failure(description: withUnsafeBytes(of: result.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
        }
        let contentType = withUnsafeBytes(of: result.content_type) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return Response(status: result.status, contentType: contentType, body: lock.withLock { body })
    }

    /// Keeps a piece of the body; false (stop) once the body would pass the cap.
    private func receive(_ piece: UnsafeRawBufferPointer) -> Bool {
        lock.withLock {
            guard body.count + piece.count <= maxBytes else {
                tooLarge = true
                return false
            }
            body.append(contentsOf: piece)
            return true
        }
    }
}

/// robots.txt rules for one user agent: the group naming our product token, else `*`;
/// the longest matching Allow/Disallow path wins, Allow on ties; `*` and `$` are supported.
struct RobotsRules: Sendable {
    private var rules: [(allow: Bool, pattern: String)]

    static let allowAll = RobotsRules(rules: [])
    static let disallowAll = RobotsRules(rules: [(false, "/")])

    private init(rules: [(allow: Bool, pattern: String)]) { self.rules = rules }

    init(_ text: String, agent: String) {
        let token = agent.split(separator: "/").first.map { $0.lowercased() } ?? agent.lowercased()
        var groups: [(agents: [String], rules: [(Bool, String)])] = []
        var collectingAgents = false
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0]
            guard let colon = line.firstIndex(of: ":") else { continue }
            let field = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            switch field {
            case "user-agent":
                if !collectingAgents { groups.append(([], [])) }
                groups[groups.count - 1].agents.append(value.lowercased())
                collectingAgents = true
            case "allow", "disallow":
                collectingAgents = false
                guard !groups.isEmpty, !value.isEmpty || field == "allow" else { continue }
                if !value.isEmpty { groups[groups.count - 1].rules.append((field == "allow", value)) }
            default:
                continue
            }
        }
        let mine = groups.filter { $0.agents.contains { $0 != "*" && token.hasPrefix($0) } }
        let chosen = mine.isEmpty ? groups.filter { $0.agents.contains("*") } : mine
        rules = chosen.flatMap { $0.rules.map { (allow: $0.0, pattern: $0.1) } }
    }

    func allows(_ path: String) -> Bool {
        var best: (length: Int, allow: Bool)?
        for rule in rules where Self.matches(rule.pattern, path) {
            let length = rule.pattern.count
            if best == nil || length > best!.length || (length == best!.length && rule.allow) { best = (length, rule.allow) }
        }
        return best?.allow ?? true
    }

    /// A robots path pattern: a prefix, with `*` for any run of characters and `$` for the end.
    static func matches(_ pattern: String, _ path: String) -> Bool {
        let anchored = pattern.hasSuffix("$")
        let body = anchored ? String(pattern.dropLast()) : pattern
        let pieces = body.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(path)
        for (n, piece) in pieces.enumerated() {
            if n == 0 {
                guard rest.hasPrefix(piece) else { return false }
                rest = rest.dropFirst(piece.count)
            } else if let range = rest.range(of: piece) {
                rest = rest[range.upperBound...]
            } else {
                return false
            }
        }
        if anchored {
            if pieces.count > 1, let last = pieces.last { return path.hasSuffix(last) }
            return rest.isEmpty
        }
        return true
    }
}
