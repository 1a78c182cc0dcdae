import Foundation
import PipeKit

/// An artifact: a sorted listing of files, each a blob. Its id is the XXH3-128 of the listing.
public struct ArtifactTree: Sendable, Hashable, Codable {
    /// One file of the tree.
    public struct Entry: Sendable, Hashable, Codable {
        public var path: String
        public var size: Int64
        public var blob: String
        /// Compressed size of the object, to spot truncation without reading it.
        public var stored: Int64
    }

    public var id: String
    public var files: [Entry]

    public init(files: [Entry]) {
        self.files = files.sorted { $0.path < $1.path }
        let hasher = Hasher128()
        for f in self.files { hasher.update("\(f.path)\t\(f.size)\t\(f.blob)\n") }
        id = hasher.finalize().hex
    }

    public var size: Int64 { files.reduce(0) { $0 + $1.size } }
    public var storedSize: Int64 { files.reduce(0) { $0 + $1.stored } }

    /// Stores every regular file under `folder` (in parallel) and returns the tree.
    public static func ingest(folder: URL, store: ObjectStore, threads: Int) throws -> ArtifactTree {
        let paths = try FileSystem.regularFiles(in: folder)
        let blobs = try Parallel.map(paths.count, threads: threads) { try store.put(file: folder.appendingPathComponent(paths[$0])) }
        return ArtifactTree(files: zip(paths, blobs).map { Entry(path: $0, size: $1.size, blob: $1.blob, stored: $1.stored) })
    }

    /// Whether every object of the tree is in the store at its recorded size.
    public func isPresent(in store: ObjectStore) -> Bool {
        files.allSatisfy { store.isPresent($0.blob, stored: $0.stored) }
    }

    /// Writes the tree's files under `folder`.
    public func materialize(into folder: URL, store: ObjectStore, readOnly: Bool = false) throws {
        try FileSystem.makeDirectory(folder)
        for file in files {
            let target = folder.appendingPathComponent(file.path)
            try FileSystem.makeDirectory(target.deletingLastPathComponent())
            let path = target.path
            unlink(path)
            let fd = try FileSystem.call("open", path) { open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644) }
            defer { close(fd) }
            try store.read(file.blob) { try FileSystem.writeAll(fd, $0, path: path) }
            if readOnly { fchmod(fd, 0o444) }
        }
    }
}

/// An artifact read straight from the store, for built-in stages.
struct StoredArtifact: ArtifactReading {
    let tree: ArtifactTree
    let store: ObjectStore

    var id: String { tree.id }
    var files: [ArtifactFile] { tree.files.map { ArtifactFile(path: $0.path, size: $0.size) } }

    func readChunks(_ path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard let entry = tree.files.first(where: { $0.path == path }) else {
            throw StageError("artifact \(tree.id) has no file '\(path)'")
        }
        try store.read(entry.blob, body)
    }

    func materialize(into folder: URL) throws -> URL {
        try tree.materialize(into: folder, store: store)
        return folder
    }
}

extension ArtifactTree {
    /// Read access to this artifact's files in `store` (for commands that inspect results).
    public func reader(store: ObjectStore) -> any ArtifactReading { StoredArtifact(tree: self, store: store) }
}
