import Support
#if canImport(Glibc)
import Glibc
#endif

/// What `stat` (or `lstat`) says about a path, in Swift types: the one place the engine asks the
/// system about a file.
struct FileStatus: Equatable {
    /// What kind of entry a path names.
    enum Kind: Equatable { case regular, directory, symbolicLink, other }

    var kind: Kind
    var size: Int64
    /// Modification time: seconds since the epoch, and nanoseconds within that second.
    var modifiedSeconds: Int64
    var modifiedNanoseconds: Int64
    var inode: UInt64
    /// Permission bits.
    var permissions: UInt32

    var isExecutable: Bool { permissions & 0o111 != 0 }

    /// Modification time in nanoseconds since the epoch.
    var modified: Int64 { modifiedSeconds * 1_000_000_000 + modifiedNanoseconds }

    /// The status of `path`, or nil when nothing is there (ENOENT, ENOTDIR); any other failure
    /// throws with the system's reason. `followLinks: false` describes a symlink itself.
    static func of(_ path: String, followLinks: Bool = true) throws -> FileStatus? {
        try read(path, followLinks: followLinks).get()
    }

    /// For a question whose answer leads to an operation that reports its own failure (is this
    /// a folder to walk? a file to open? how large is it?): a path the system will not describe
    /// counts as absent, and the open, read or removal that follows names the path and the reason.
    static func probe(_ path: String, followLinks: Bool = true) -> FileStatus? {
        guard case .success(let status) = read(path, followLinks: followLinks) else { return nil }
        return status
    }

    private static func read(_ path: String, followLinks: Bool) -> Result<FileStatus?, SystemCallError> {
        var st = stat()
        while (followLinks ? stat(path, &st) : lstat(path, &st)) != 0 {
            switch errno {
            case EINTR: continue
            case ENOENT, ENOTDIR: return .success(nil)
            default: return .failure(SystemCallError(call: followLinks ? "stat" : "lstat", path: path, code: errno))
            }
        }
        let kind: Kind
        switch st.st_mode & S_IFMT {
        case S_IFREG: kind = .regular
        case S_IFDIR: kind = .directory
        case S_IFLNK: kind = .symbolicLink
        default: kind = .other
        }
        return .success(FileStatus(kind: kind, size: Int64(st.st_size),
                          modifiedSeconds: Int64(st.st_mtim.tv_sec), modifiedNanoseconds: Int64(st.st_mtim.tv_nsec),
                          inode: UInt64(st.st_ino), permissions: UInt32(st.st_mode & 0o7777)))
    }
}
