import Foundation
import Support
import PipeKit
#if canImport(Glibc)
import Glibc
#endif

/// Content hashes of files outside the cache, remembered by (path, size, mtime, inode) so that
/// unchanged files are not read again, as DVC's state database does.
public final class StatCache: @unchecked Sendable {
    private struct Stamp: Equatable {
        var size: Int64
        var mtime: Int64
        var inode: UInt64
    }

    private let url: URL
    private var entries: [String: (Stamp, String)] = [:]
    private var dirty = false
    private let lock = NSLock()

    public init(cacheRoot: URL) {
        url = cacheRoot.appendingPathComponent("state/stat-cache.tsv")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 5, let size = Int64(f[1]), let mtime = Int64(f[2]), let inode = UInt64(f[3]) else { continue }
            entries[String(f[0])] = (Stamp(size: size, mtime: mtime, inode: inode), String(f[4]))
        }
    }

    /// The content hash of the file at `path` (absolute), read only when its stamp changed.
    public func hash(of path: String) throws -> String {
        guard let status = try FileStatus.of(path) else { throw SystemCallError(call: "stat", path: path, code: ENOENT) }
        let stamp = Stamp(size: status.size, mtime: status.modified, inode: status.inode)
        if let (known, digest) = lock.withLock({ entries[path] }), known == stamp { return digest }
        let hasher = Hasher128()
        try FileSystem.readChunks(path) { hasher.update($0) }
        let digest = hasher.finalize().hex
        lock.withLock {
            entries[path] = (stamp, digest)
            dirty = true
        }
        return digest
    }

    /// Writes the cache back when it learned something.
    public func save() {
        let text: String? = lock.withLock {
            guard dirty else { return nil }
            dirty = false
            return entries.sorted { $0.key < $1.key }
                .map { "\($0.key)\t\($0.value.0.size)\t\($0.value.0.mtime)\t\($0.value.0.inode)\t\($0.value.1)\n" }
                .joined()
        }
        if let text { try? FileSystem.writeAtomically(Data(text.utf8), to: url) }
    }
}

/// Digests of a stage's external inputs.
enum ExternalHasher {
    /// A stable name for an external input in key parts and messages.
    static func describe(_ input: ExternalInput) -> String {
        var text = input.path
        if !input.include.isEmpty { text += " include " + input.include.joined(separator: ",") }
        if !input.exclude.isEmpty { text += " exclude " + input.exclude.joined(separator: ",") }
        return text
    }

    /// The files an external input selects, relative to its path (a single file gives "").
    static func files(of input: ExternalInput, workspace: URL) throws -> (root: URL, files: [String]) {
        // A root that is a symlink to a folder is walked as that folder (as collect reads it).
        let root = (input.path.hasPrefix("/") ? URL(fileURLWithPath: input.path)
            : workspace.appendingPathComponent(input.path)).resolvingSymlinksInPath()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root.path, isDirectory: &isDirectory) else {
            throw StageError("external input '\(input.path)' does not exist")
        }
        guard isDirectory.boolValue else {
            guard FileSystem.isRegularFile(root.path) else {
                throw StageError("external input '\(input.path)' is not a regular file (a FIFO, socket or device cannot be hashed)")
            }
            return (root, [""])
        }
        let includes = input.include.map(GlobPattern.init), excludes = input.exclude.map(GlobPattern.init)
        var files: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: root.path) else { return (root, []) }
        while let relative = walker.nextObject() as? String {
            if !FileSystem.isRegularFile(root.path + "/" + relative) { continue }
            if !includes.isEmpty, !includes.contains(where: { $0.matches(relative) }) { continue }
            if excludes.contains(where: { $0.matches(relative) }) { continue }
            files.append(relative)
        }
        return (root, files.sorted())
    }

    /// One digest over the listed files' paths and contents.
    static func digest(_ input: ExternalInput, workspace: URL, stats: StatCache) throws -> String {
        let (root, files) = try files(of: input, workspace: workspace)
        if files == [""] { return try stats.hash(of: root.path) }
        let hasher = Hasher128()
        for file in files {
            hasher.update("\(file)\t\(try stats.hash(of: root.path + "/" + file))\n")
        }
        return hasher.finalize().hex
    }
}

/// The identity of a plugin's code: a digest over its folder's files (build products excluded).
enum PluginFolderHash {
    static let ignoredNames: Set<String> = ["__pycache__", ".build", ".git", ".venv", ".DS_Store", ".swiftpm"]

    /// Regular files and symlinks in the folder, relative and sorted, skipping ignored names.
    /// FIFOs, sockets and devices are not code and are left out (reading a FIFO would hang); an
    /// entry the system will not describe is an error naming it (it could be code).
    static func files(in folder: URL) throws -> [String] {
        var result: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: folder.path) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if ignoredNames.contains(name) || name.hasSuffix(".pyc") {
                walker.skipDescendants()
                continue
            }
            let kind = try FileStatus.of(folder.path + "/" + relative, followLinks: false)?.kind
            if kind == .regular || kind == .symbolicLink { result.append(relative) }
        }
        return result.sorted()
    }

    static func digest(_ folder: URL, stats: StatCache) throws -> String {
        let hasher = Hasher128()
        for file in try files(in: folder) {
            let path = folder.path + "/" + file
            guard try FileStatus.of(path)?.kind == .regular else { continue }
            let executable = try FileStatus.of(path, followLinks: false)?.isExecutable == true ? "x" : "-"
            hasher.update("\(file)\t\(executable)\t\(try stats.hash(of: path))\n")
        }
        return hasher.finalize().hex
    }
}
