import Foundation
import PipeKit
import Synchronization

/// A JSONL file the server appends to, one object per line, written whole under a lock so
/// concurrent requests never interleave (the request log and the feedback file).
final class JSONLAppender: Sendable {
    private let file: Mutex<FileHandle>

    /// Opens `url` for appending, creating it.
    init(url: URL) throws {
        if !FileManager.default.fileExists(atPath: url.path) {
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
            }
        }
        let handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
        file = Mutex(handle)
    }

    func append(_ object: [String: JSONValue]) throws {
        let line = Data((JSONValue.object(object).canonicalJSON + "\n").utf8)
        try file.withLock { try $0.write(contentsOf: line) }
    }
}
