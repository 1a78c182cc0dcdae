import Foundation
import PipeKit
#if canImport(Glibc)
import Glibc
#endif

/// Copies artifacts to workspace paths named by `publish:`, skipping copies that are current.
struct Publisher {
    let cache: Cache
    let workspace: URL

    /// Publishes `tree` at `path`; returns what was recorded. `previous` is the lock's record.
    func publish(_ tree: ArtifactTree, to path: String, previous: PipelineLock.Published?) throws -> PipelineLock.Published {
        let target = path.hasPrefix("/") ? URL(fileURLWithPath: path) : workspace.appendingPathComponent(path)
        try checkInsideWorkspace(target, path: path)
        let asFile = tree.files.count == 1 && !path.hasSuffix("/")
        if let previous, previous.artifact == tree.id, previous.stamp == stamp(target, asFile: asFile) {
            return previous
        }
        let parent = target.deletingLastPathComponent()
        try FileSystem.makeDirectory(parent)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).pipe-\(getpid())")
        FileSystem.removeTree(staging)
        defer { FileSystem.removeTree(staging) }
        if asFile {
            try tree.materialize(into: staging, store: cache.objects)
            try FileSystem.call("rename", target.path) {
                rename(staging.appendingPathComponent(tree.files[0].path).path, target.path)
            }
        } else {
            try tree.materialize(into: staging, store: cache.objects)
            FileSystem.removeTree(target)
            try FileSystem.call("rename", target.path) { rename(staging.path, target.path) }
        }
        return PipelineLock.Published(artifact: tree.id, stamp: stamp(target, asFile: asFile))
    }

    /// Size and modification time of what is at `target`, to notice later edits or removal.
    private func stamp(_ target: URL, asFile: Bool) -> String {
        func one(_ path: String) -> String {
            var st = stat()
            guard stat(path, &st) == 0 else { return "missing" }
            return "\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)"
        }
        if asFile { return one(target.path) }
        guard FileSystem.isDirectory(target.path), let files = try? FileSystem.regularFiles(in: target) else { return "missing" }
        return Hasher128.hash(files.map { "\($0)=\(one(target.path + "/" + $0))" }.joined(separator: "\n")).hex
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
}

