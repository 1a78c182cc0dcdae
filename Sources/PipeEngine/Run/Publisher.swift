import Foundation
import PipeKit
#if canImport(Glibc)
import Glibc
#endif

/// Copies artifacts to workspace paths named by `publish:`, skipping copies that are current.
///
/// A target is replaced only when it is absent or is a copy pipe published there before (the
/// lock file records each copy and, for a folder, the files in it): publishing never deletes or
/// overwrites a file that pipe did not write.
struct Publisher {
    let cache: Cache
    let workspace: URL

    /// Publishes `tree` at `path`; returns what was recorded. `previous` is the lock's record of
    /// the copy at `path`, whichever stage published it.
    func publish(_ tree: ArtifactTree, to path: String, previous: PipelineLock.Published?) throws -> PipelineLock.Published {
        let target = path.hasPrefix("/") ? URL(fileURLWithPath: path) : workspace.appendingPathComponent(path)
        try checkInsideWorkspace(target, path: path)
        try checkOutsideCache(target, path: path)
        let asFile = tree.files.count == 1 && !path.hasSuffix("/")
        if let previous, previous.artifact == tree.id, previous.stamp == (try stamp(target, asFile: asFile)) {
            return previous
        }
        let replacing = try checkReplaceable(target, path: path, previous: previous)
        let parent = target.deletingLastPathComponent()
        try FileSystem.makeDirectory(parent)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).pipe-\(getpid())")
        FileSystem.removeTree(staging)
        defer { FileSystem.removeTree(staging) }
        try tree.materialize(into: staging, store: cache.objects)
        if replacing && !(asFile && FileSystem.isRegularFile(target.path)) { FileSystem.removeTree(target) }
        if asFile {
            try FileSystem.call("rename", target.path) {
                rename(staging.appendingPathComponent(tree.files[0].path).path, target.path)
            }
        } else {
            try FileSystem.call("rename", target.path) { rename(staging.path, target.path) }
        }
        try FileSystem.syncDirectory(parent)
        return PipelineLock.Published(artifact: tree.id, stamp: try stamp(target, asFile: asFile),
                                      files: asFile ? nil : tree.files.map(\.path).sorted())
    }

    /// Refuses to replace anything pipe did not publish: an existing target must be the copy
    /// recorded in the lock file, of the same shape (file or folder), and a folder may hold only
    /// the files published into it. Returns whether something is there to replace.
    private func checkReplaceable(_ target: URL, path: String, previous: PipelineLock.Published?) throws -> Bool {
        guard let status = try FileStatus.of(target.path, followLinks: false) else { return false }
        if status.kind == .symbolicLink {
            throw StageError("publish target '\(path)' is a symbolic link; pipe publishes only to a path that is absent or that it published before")
        }
        guard let previous else {
            throw StageError("publish target '\(path)' already exists and pipe did not publish it; move it away or choose another path")
        }
        switch (status.kind, previous.files) {
        case (.regular, nil):
            return true
        case (.directory, nil) where previous.stamp == (try stamp(target, asFile: false)):
            return true  // a folder recorded before locks listed its files, untouched since
        case (.directory, let recorded?):
            let published = Set(recorded)
            if let foreign = try FileSystem.regularFiles(in: target).first(where: { !published.contains($0) }) {
                throw StageError("publish folder '\(path)' holds '\(foreign)', which pipe did not publish; move it away or choose another path")
            }
            return true
        default:
            throw StageError("publish target '\(path)' is not the \(previous.files == nil ? "file" : "folder") pipe published there; move it away or choose another path")
        }
    }

    /// Size and modification time of what is at `target`, to notice later edits or removal.
    /// A folder holding a symlink or special file is an error naming it (pipe publishes none).
    private func stamp(_ target: URL, asFile: Bool) throws -> String {
        func one(_ path: String) throws -> String {
            guard let status = try FileStatus.of(path, followLinks: false) else { return "missing" }
            return "\(status.size):\(status.modifiedSeconds).\(status.modifiedNanoseconds)"
        }
        if asFile { return try one(target.path) }
        guard FileSystem.isDirectory(target.path, followingLinks: false) else { return "missing" }
        let files = try FileSystem.regularFiles(in: target)
        return Hasher128.hash(try files.map { "\($0)=\(try one(target.path + "/" + $0))" }.joined(separator: "\n")).hex
    }

    /// Refuses targets that a symlink inside the workspace would carry outside it.
    private func checkInsideWorkspace(_ target: URL, path: String) throws {
        let root = workspace.resolvingSymlinksInPath().path
        var existing = target.deletingLastPathComponent()
        while !FileManager.default.fileExists(atPath: existing.path), existing.path != "/" {
            existing = existing.deletingLastPathComponent()
        }
        let resolved = existing.resolvingSymlinksInPath().path
        guard resolved == root || resolved.hasPrefix(root + "/") else {
            throw StageError("publish path '\(path)' leads outside the workspace (through \(existing.path))")
        }
    }

    /// Refuses targets inside the cache folder, or that would hold it.
    private func checkOutsideCache(_ target: URL, path: String) throws {
        let cacheRoot = cache.root.resolvingSymlinksInPath().path
        let resolved = target.deletingLastPathComponent().resolvingSymlinksInPath()
            .appendingPathComponent(target.lastPathComponent).path
        if resolved == cacheRoot || resolved.hasPrefix(cacheRoot + "/") || cacheRoot.hasPrefix(resolved + "/") {
            throw StageError("publish path '\(path)' is inside the cache folder \(cache.root.path) (or holds it)")
        }
    }
}
