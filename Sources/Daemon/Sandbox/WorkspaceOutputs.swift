import CSandbox
import CSystem
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Reads the paths a client asked for (`--output`) out of a finished run's upper layer: the files the run
/// created or changed. Only regular files and directories owned by the run's uid come out; links,
/// devices, FIFOs, sockets, anything owned by someone else (an overlay copy-up made with the daemon's
/// credentials), files over the per-file cap and everything past the total cap are named and left behind.
/// Paths resolve beneath the upper directory without following any symlink. The walk is iterative and
/// bounded in depth and entries, so no tree the run builds can exhaust the daemon. Runs after every
/// process of the run is gone, so nothing can change underneath.
public enum WorkspaceOutputs {
    public enum Item {
        case directory(path: String)
        case file(path: String, mode: UInt32, size: UInt64, descriptor: FileDescriptor)
        case skipped(path: String, reason: String)
    }

    public struct Caps: Sendable {
        public var fileBytes: UInt64
        /// All files together: at most what the run could store (sparse files cannot inflate it).
        public var totalBytes: UInt64
        public var entries = 10_000
        public var depth = 64
        public init(fileBytes: UInt64, totalBytes: UInt64) { self.fileBytes = fileBytes; self.totalBytes = totalBytes }
    }

    /// A relative path without "..", "." or empty components, or nil.
    public static func normalize(_ path: String) -> String? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard !path.isEmpty, !path.hasPrefix("/"), path.utf8.count < 4096, !path.contains("\0") else { return nil }
        if parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." }) { return nil }
        return path
    }

    public static func collect(upper: String, paths: [String], owner: uid_t, caps: Caps, _ body: (Item) throws -> Void) throws {
        let root = try FileDescriptor.open(upper, O_RDONLY | O_DIRECTORY)
        var entries = 0
        var total: UInt64 = 0
        for path in paths {
            guard let rel = normalize(path) else {
                try body(.skipped(path: path, reason: "not a plain relative path"))
                continue
            }
            var pending = [(path: rel, depth: 0)]
            while let (current, depth) = pending.popLast() {
                entries += 1
                if entries > caps.entries { try body(.skipped(path: current, reason: "more than \(caps.entries) entries")); return }
                if depth > caps.depth { try body(.skipped(path: current, reason: "deeper than \(caps.depth) levels")); continue }
                guard let children = try visit(root: root, path: current, owner: owner, caps: caps, total: &total, body) else { continue }
                // Reversed, so that popLast() takes them in order.
                pending += children.reversed().map { (current + "/" + $0, depth + 1) }
            }
        }
    }

    /// Sends one entry; returns a directory's children (nil for anything else).
    private static func visit(root: FileDescriptor, path: String, owner: uid_t, caps: Caps, total: inout UInt64,
                              _ body: (Item) throws -> Void) throws -> [String]? {
        let fd = gb_openat_beneath(root.raw, path, 0o10000000 /* O_PATH */ | O_NOFOLLOW, 0)
        if fd < 0 {
            switch errno {
            case ENOENT: try body(.skipped(path: path, reason: "not written by the run"))
            case ELOOP, EXDEV: try body(.skipped(path: path, reason: "a symbolic link"))
            default: try body(.skipped(path: path, reason: String(cString: strerror(errno))))
            }
            return nil
        }
        let pathFD = FileDescriptor(fd)
        var st = stat()
        try syscallValue("stat", path) { fstat(pathFD.raw, &st) }
        let kind = st.st_mode & S_IFMT
        if (kind == S_IFREG || kind == S_IFDIR) && st.st_uid != owner {
            try body(.skipped(path: path, reason: "not the run's own (owner uid \(st.st_uid))"))
            return nil
        }
        switch kind {
        case S_IFREG:
            let size = UInt64(st.st_size)
            if size > caps.fileBytes {
                try body(.skipped(path: path, reason: "\(size) bytes, over the policy's \(caps.fileBytes)-byte cap"))
            } else if total + size > caps.totalBytes {
                try body(.skipped(path: path, reason: "over the run's \(caps.totalBytes)-byte total for outputs"))
            } else {
                total += size
                let file = FileDescriptor(try syscallValue("open", path) { gb_openat_beneath(root.raw, path, O_RDONLY | O_NOFOLLOW, 0) })
                try body(.file(path: path, mode: st.st_mode & 0o755, size: size, descriptor: file))
            }
            return nil
        case S_IFDIR:
            try body(.directory(path: path))
            return try entries(root: root, path: path)
        case S_IFLNK: try body(.skipped(path: path, reason: "a symbolic link"))
        case S_IFCHR: try body(.skipped(path: path, reason: st.st_rdev == 0 ? "deleted by the run" : "a device"))
        default: try body(.skipped(path: path, reason: "not a regular file or directory"))
        }
        return nil
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
