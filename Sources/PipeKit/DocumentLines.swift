import Foundation

/// One documents shard in memory, split into line ranges so threads can share it.
public struct DocumentLines: Sendable {
    public let data: Data
    /// (start, end) byte range of each non-empty line.
    public let lines: [(Int, Int)]

    public init(_ data: Data) {
        self.data = data
        var lines: [(Int, Int)] = []
        data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            var start = 0
            while start < b.count {
                let end = memchr(b.baseAddress! + start, 0x0A, b.count - start)
                    .map { UnsafeRawPointer($0) - UnsafeRawPointer(b.baseAddress!) } ?? b.count
                if end > start { lines.append((start, end)) }
                start = end + 1
            }
        }
        self.lines = lines
    }

    /// Calls `body` with the UTF-8 text of lines `range` (any sequence of line indices), one at a
    /// time, on this thread. Invalid UTF-8 is repaired (U+FFFD) so every consumer sees the same text.
    public func forEachText(_ range: some Sequence<Int>, _ body: (UnsafeBufferPointer<UInt8>, Int) throws -> Void) throws {
        var text: [UInt8] = []
        try data.withUnsafeBytes { raw in
            let b = raw.bindMemory(to: UInt8.self)
            for index in range {
                let (start, end) = lines[index]
                text.removeAll(keepingCapacity: true)
                guard JSONLineScanner.stringField("text", in: UnsafeBufferPointer(rebasing: b[start..<end]), into: &text) else {
                    throw StageError("line \(index + 1): not a document (a JSON object with a \"text\" string)")
                }
                if String(validating: text, as: UTF8.self) == nil {
                    text = Array(String(decoding: text, as: UTF8.self).utf8)
                }
                try text.withUnsafeBufferPointer { try body($0, index) }
            }
        }
    }

    /// Calls `body` with the raw bytes of line `index` (the JSON object, no newline).
    public func withLine<R>(_ index: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        try data.withUnsafeBytes { raw in
            let (start, end) = lines[index]
            return try body(UnsafeBufferPointer(rebasing: raw.bindMemory(to: UInt8.self)[start..<end]))
        }
    }

    /// Contiguous, nearly equal line ranges for `parts` threads.
    public func partitions(_ parts: Int) -> [Range<Int>] {
        let n = lines.count, p = max(1, min(parts, n))
        return (0..<p).map { k in (n * k / p)..<(n * (k + 1) / p) }
    }
}
