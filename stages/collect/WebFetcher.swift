import Foundation
import PipeKit
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What a fetch of one URL gave.
enum FetchOutcome: Sendable {
    case document(body: [UInt8], format: String, status: Int)
    case skipped(reason: String)
}

/// Fetches URLs politely: a User-Agent, robots.txt honoured (RFC 9309), a minimum interval
/// between requests to one host, a timeout, retries with exponential backoff on network
/// errors, 429 and 5xx, and a size cap.
actor WebFetcher {
    /// The urls source: user_agent, timeout, retries, rate_limit, robots.
    private let source: CollectStage.Source
    private let maxBytes: Int
    private let session: URLSession
    private var nextSlot: [String: Date] = [:]
    private var robots: [String: RobotsRules] = [:]

    init(source: CollectStage.Source, maxBytes: Int) {
        self.source = source
        self.maxBytes = maxBytes
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = source.timeout
        configuration.httpAdditionalHeaders = ["User-Agent": source.user_agent]
        session = URLSession(configuration: configuration)
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

    /// One request with retries; returns (status, content type, body) or throws the last error.
    private func get(_ url: URL) async throws -> (Int, String, Data) {
        var attempt = 0
        while true {
            try await reserve(url.host ?? "")
            do {
                let (data, response) = try await session.data(for: URLRequest(url: url))
                let http = response as? HTTPURLResponse
                let status = http?.statusCode ?? 0
                if (status == 429 || status >= 500) && attempt < source.retries {
                    attempt += 1
                    try await Task.sleep(nanoseconds: UInt64(0.25 * pow(2, Double(attempt)) * 1e9))
                    continue
                }
                return (status, http?.value(forHTTPHeaderField: "Content-Type") ?? "", data)
            } catch {
                if attempt >= source.retries || error is CancellationError { throw error }
                attempt += 1
                try await Task.sleep(nanoseconds: UInt64(0.25 * pow(2, Double(attempt)) * 1e9))
            }
        }
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
            guard data.count <= maxBytes else { return .skipped(reason: "larger than \(maxBytes) bytes") }
            let type = contentType.lowercased()
            let format = type.contains("html") ? "html" : (type.hasPrefix("text/") || type.isEmpty ? "text" : "")
            guard !format.isEmpty else { return .skipped(reason: "content type \(contentType)") }
            return .document(body: [UInt8](data), format: format, status: status)
        } catch {
            return .skipped(reason: "\(error.localizedDescription)")
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
