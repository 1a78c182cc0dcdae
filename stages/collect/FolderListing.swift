import Foundation
import PipeKit

/// The files of a files source: a file, or a folder walked for the regular files matching the
/// globs. FIFOs, sockets and devices are left out (reading one could wait forever), and so are
/// symlinks leading outside the folder unless `followSymlinks`; both are listed to be reported.
/// A source path that is itself a symlink to a folder is walked like the folder.
struct FolderListing {
    /// The regular files to read and their paths relative to the source, sorted by path.
    private(set) var files: [(URL, String)] = []
    /// Entries that are not regular files or folders.
    private(set) var special: [String] = []
    /// Symlinks leading outside the folder, not followed.
    private(set) var outsideLinks: [String] = []

    private let include: [GlobPattern]
    private let exclude: [GlobPattern]
    private let followSymlinks: Bool
    /// The folder's real path (symlinks resolved).
    private var realRoot = ""
    /// Real paths of the folders walked, so a followed link cannot lead round in a circle.
    private var visited: Set<String> = []

    init(_ root: URL, path: String, include: [String], exclude: [String], followSymlinks: Bool) throws {
        self.include = include.map(GlobPattern.init)
        self.exclude = exclude.map(GlobPattern.init)
        self.followSymlinks = followSymlinks
        var info = stat()
        guard stat(root.path, &info) == 0 else { throw StageError("source path '\(path)' does not exist") }
        switch info.st_mode & S_IFMT {
        case S_IFDIR:
            realRoot = Self.realPath(root.path) ?? root.path
            visited = [realRoot]
            try walk(realRoot, relative: "")
            files.sort { $0.1 < $1.1 }
            special.sort()
            outsideLinks.sort()
        case S_IFREG:
            files = [(root, root.lastPathComponent)]
        default:
            special = [path]
        }
    }

    /// Lists the entries of `folder`, whose path relative to the root is `prefix`.
    private mutating func walk(_ folder: String, relative prefix: String) throws {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder) } catch {
            throw StageError("cannot list \(folder): \(error.localizedDescription)")
        }
        for name in names {
            let path = folder + "/" + name, relative = prefix + name
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK {
                guard let target = Self.realPath(path), stat(target, &info) == 0 else { continue }  // dangling
                let inside = target == realRoot || target.hasPrefix(realRoot + "/")
                if !inside && !followSymlinks {
                    if selected(relative) { outsideLinks.append(relative) }
                    continue
                }
                // A link to a folder inside is walked where the folder is.
                if inside && info.st_mode & S_IFMT == S_IFDIR { continue }
            }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard visited.insert(Self.realPath(path) ?? path).inserted else { continue }
                try walk(path, relative: relative + "/")
            case S_IFREG:
                if selected(relative) { files.append((URL(fileURLWithPath: path), relative)) }
            default:
                if selected(relative) { special.append(relative) }
            }
        }
    }

    /// Whether the include and exclude globs select a relative path.
    private func selected(_ relative: String) -> Bool {
        (include.isEmpty || include.contains { $0.matches(relative) }) && !exclude.contains { $0.matches(relative) }
    }

    /// `path` with every symlink resolved, nil when it leads nowhere.
    private static func realPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Warns about what a source's listing left out.
    func warn(source: String, _ context: StageContext) {
        if !special.isEmpty {
            context.warn("\(source): skipped \(special.count) file(s) that are not regular files (FIFOs, sockets, devices): "
                + special.prefix(5).joined(separator: ", ") + (special.count > 5 ? ", ..." : ""))
        }
        if !outsideLinks.isEmpty {
            context.warn("\(source): skipped \(outsideLinks.count) symlink(s) leading outside the folder (follow_symlinks: true reads them): "
                + outsideLinks.prefix(5).joined(separator: ", ") + (outsideLinks.count > 5 ? ", ..." : ""))
        }
    }
}
