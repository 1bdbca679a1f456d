import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Reads the paths a client asked for (`--output`) out of a finished run's upper layer: the files the run
/// created or changed. Only regular files and directories come out; links, devices, FIFOs and sockets
/// are named and left behind, and so is a file over the size cap. Paths resolve beneath the upper
/// directory without following any symlink. Runs after every process of the run is gone, so nothing
/// can change underneath.
public enum WorkspaceOutputs {
    public enum Item {
        case directory(path: String)
        case file(path: String, mode: UInt32, size: UInt64, descriptor: FileDescriptor)
        case skipped(path: String, reason: String)
    }

    public static let maxEntries = 10_000

    /// A relative path without "..", "." or empty components, or nil.
    public static func normalize(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), path.utf8.count < 4096, !path.contains("\0") else { return nil }
        if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return nil }
        return path
    }

    public static func collect(upper: String, paths: [String], maxFileBytes: UInt64, _ body: (Item) throws -> Void) throws {
        let root = try FileDescriptor.open(upper, O_RDONLY | O_DIRECTORY)
        var count = 0
        for path in paths {
            guard let rel = normalize(path) else {
                try body(.skipped(path: path, reason: "not a plain relative path"))
                continue
            }
            try visit(root: root, path: rel, maxFileBytes: maxFileBytes, count: &count, body)
        }
    }

    private static func visit(root: FileDescriptor, path: String, maxFileBytes: UInt64, count: inout Int, _ body: (Item) throws -> Void) throws {
        count += 1
        if count > maxEntries { return try body(.skipped(path: path, reason: "more than \(maxEntries) entries")) }
        let fd = gb_openat_beneath(root.raw, path, 0o10000000 /* O_PATH */ | O_NOFOLLOW, 0)
        if fd < 0 {
            switch errno {
            case ENOENT: return try body(.skipped(path: path, reason: "not written by the run"))
            case ELOOP, EXDEV: return try body(.skipped(path: path, reason: "a symbolic link"))
            default: return try body(.skipped(path: path, reason: String(cString: strerror(errno))))
            }
        }
        let pathFD = FileDescriptor(fd)
        var st = stat()
        try syscallValue("stat", path) { fstat(pathFD.raw, &st) }
        switch st.st_mode & S_IFMT {
        case S_IFREG:
            if UInt64(st.st_size) > maxFileBytes {
                return try body(.skipped(path: path, reason: "\(st.st_size) bytes, over the policy's \(maxFileBytes)-byte cap"))
            }
            let file = FileDescriptor(try syscallValue("open", path) { gb_openat_beneath(root.raw, path, O_RDONLY | O_NOFOLLOW, 0) })
            try body(.file(path: path, mode: st.st_mode & 0o755, size: UInt64(st.st_size), descriptor: file))
        case S_IFDIR:
            try body(.directory(path: path))
            for name in try entries(root: root, path: path) {
                try visit(root: root, path: path + "/" + name, maxFileBytes: maxFileBytes, count: &count, body)
            }
        case S_IFLNK: try body(.skipped(path: path, reason: "a symbolic link"))
        case S_IFCHR: try body(.skipped(path: path, reason: st.st_rdev == 0 ? "deleted by the run" : "a device"))
        default: try body(.skipped(path: path, reason: "not a regular file or directory"))
        }
    }

    private static func entries(root: FileDescriptor, path: String) throws -> [String] {
        let fd = try syscallValue("open", path) { gb_openat_beneath(root.raw, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0) }
        guard let dir = fdopendir(fd) else { close(fd); throw SystemError("opendir", path, errno: errno) }
        defer { closedir(dir) }
        var names: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
