/// Shell-style globs over `/`-separated relative paths: `*` and `?` stay within one path
/// segment, `**` spans any number of segments, `[abc]` matches one listed byte.
public struct GlobPattern: Sendable {
    private let pattern: [UInt8]

    public init(_ pattern: String) { self.pattern = Array(pattern.utf8) }

    public func matches(_ path: String) -> Bool {
        let text = Array(path.utf8)
        return match(0, text, 0)
    }

    private func match(_ p: Int, _ t: [UInt8], _ i: Int) -> Bool {
        var p = p, i = i
        while p < pattern.count {
            let c = pattern[p]
            if c == UInt8(ascii: "*") {
                if p + 1 < pattern.count, pattern[p + 1] == UInt8(ascii: "*") {
                    // `**/` also matches zero folders.
                    var next = p + 2
                    if next < pattern.count, pattern[next] == UInt8(ascii: "/") {
                        if match(next + 1, t, i) { return true }
                        next += 1
                    }
                    var j = i
                    while j <= t.count {
                        if match(next, t, j) { return true }
                        j += 1
                    }
                    return false
                }
                var j = i
                while true {
                    if match(p + 1, t, j) { return true }
                    if j >= t.count || t[j] == UInt8(ascii: "/") { return false }
                    j += 1
                }
            }
            guard i < t.count else { return false }
            if c == UInt8(ascii: "?") {
                if t[i] == UInt8(ascii: "/") { return false }
            } else if c == UInt8(ascii: "[") , let close = pattern[(p + 1)...].firstIndex(of: UInt8(ascii: "]")) {
                guard pattern[(p + 1)..<close].contains(t[i]) else { return false }
                p = close
            } else if c != t[i] {
                return false
            }
            p += 1
            i += 1
        }
        return i == t.count
    }
}
