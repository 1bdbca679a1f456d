import CSystem
import Foundation
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// The files of an idea's workspace that the model may change. Every open is relative to the workspace's
/// directory descriptor with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`, so neither `..` nor a symbolic
/// link planted by a run's outputs can lead a write outside it; the names are checked as text first, so the
/// model is told plainly why an edit was refused.
public struct WorkspaceFiles: Sendable {
    public let root: String
    /// Relative paths, normalized ("plot.py", "src/model.py").
    public let editable: Set<String>

    public static let defaultEditable = ["experiment.py", "plot.py", "notes.txt"]

    public init(root: String, editable: [String] = WorkspaceFiles.defaultEditable) {
        self.root = root
        self.editable = Set(editable.compactMap { Self.normalize($0) })
    }

    /// "./a//b.py" → "a/b.py"; nil for an absolute path, one through "..", or an empty one.
    static func normalize(_ path: String) -> String? {
        guard !path.hasPrefix("/") else { return nil }
        let parts = path.split(separator: "/").filter { $0 != "." }
        guard !parts.isEmpty, !parts.contains("..") else { return nil }
        return parts.joined(separator: "/")
    }

    /// Why the model may not edit `path`, or nil when it may.
    public func refusal(_ path: String) -> String? {
        if path.isEmpty { return "the block names no file" }
        if path.hasPrefix("/") { return "\(path) is an absolute path; name files relative to the workspace, such as experiment.py" }
        if path.split(separator: "/").contains("..") { return "\(path) goes through `..`; only files inside the workspace can be edited" }
        guard let name = Self.normalize(path), editable.contains(name) else {
            return "\(path) is not editable; the files you may edit are \(editable.sorted().joined(separator: ", "))"
        }
        return nil
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case symbolicLink(String)
        case notRegular(String)
        case tooLarge(String, limit: Int)
        case system(String, SystemError)

        public var description: String {
            switch self {
            case .symbolicLink(let path): "\(path) is, or lies under, a symbolic link; edits never follow links"
            case .notRegular(let path): "\(path) is not a regular file"
            case .tooLarge(let path, let limit):
                "\(path) is larger than \(limit >> 20) MiB" + (limit == WorkspaceFiles.sizeLimit ? "; it cannot be edited this way" : "")
            case .system(_, let error): "\(error)"
            }
        }
    }

    public static let sizeLimit = 4 << 20

    /// The file's text, or nil when it does not exist.
    public func read(_ path: String) throws(Failure) -> String? {
        try readBytes(path).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The file's bytes, at most `limit`, or nil when it does not exist: opened beneath the root without
    /// following a symbolic link on the way, and checked on the open descriptor, so that a link planted by
    /// a run's outputs leads nowhere.
    public func readBytes(_ path: String, limit: Int = sizeLimit) throws(Failure) -> [UInt8]? {
        let name = Self.normalize(path) ?? path
        let dir = try openRoot()
        defer { close(dir) }
        let fd = gb_openat_beneath(dir, name, O_RDONLY | O_NOFOLLOW, 0)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw failure(name, operation: "open", errno: errno)
        }
        let file = FileDescriptor(fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .system(name, SystemError("stat", name, errno: errno)) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw .notRegular(name) }
        guard st.st_size <= limit else { throw .tooLarge(name, limit: limit) }
        do { return try file.readToEnd(limit: limit + 1) }
        catch { throw .system(name, error as? SystemError ?? SystemError("read", name, errno: EIO)) }
    }

    /// Replaces the file's contents: a new file beside it, renamed over it, so a reader never sees half an edit.
    public func write(_ path: String, _ text: String) throws(Failure) {
        let name = Self.normalize(path) ?? path
        let dir = try openRoot()
        defer { close(dir) }
        let slash = name.lastIndex(of: "/")
        let parentName = slash.map { String(name[..<$0]) }
        let base = slash.map { String(name[name.index(after: $0)...]) } ?? name
        var parent = dir
        if let parentName {
            parent = gb_openat_beneath(dir, parentName, O_RDONLY | O_DIRECTORY, 0)
            guard parent >= 0 else { throw failure(parentName, operation: "open", errno: errno) }
        }
        defer { if parent != dir { close(parent) } }
        var mode: mode_t = 0o644
        var st = stat()
        if fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0 {
            guard (st.st_mode & S_IFMT) != S_IFLNK else { throw .symbolicLink(name) }
            guard (st.st_mode & S_IFMT) == S_IFREG else { throw .notRegular(name) }
            mode = st.st_mode & 0o777
        }
        let temporary = ".\(base).scientist-edit"
        unlinkat(parent, temporary, 0)
        let fd = openat(parent, temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else { throw .system(name, SystemError("create", temporary, errno: errno)) }
        let file = FileDescriptor(fd)
        do {
            try file.writeAll(Array(text.utf8))
            guard fsync(fd) == 0 else { throw SystemError("fsync", temporary, errno: errno) }
        } catch {
            unlinkat(parent, temporary, 0)
            throw .system(name, error as? SystemError ?? SystemError("write", temporary, errno: EIO))
        }
        file.close()
        guard renameat(parent, temporary, parent, base) == 0 else {
            let code = errno
            unlinkat(parent, temporary, 0)
            throw .system(name, SystemError("rename", name, errno: code))
        }
    }

    private func openRoot() throws(Failure) -> Int32 {
        let fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .system(root, SystemError("open", root, errno: errno)) }
        return fd
    }

    private func failure(_ name: String, operation: String, errno code: Int32) -> Failure {
        // openat2's RESOLVE_NO_SYMLINKS answers ELOOP, RESOLVE_BENEATH EXDEV.
        if code == ELOOP || code == EXDEV { return .symbolicLink(name) }
        return .system(name, SystemError(operation, name, errno: code))
    }
}
