import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// An open cgroup directory, whose files and children are reached through its descriptor.
///
/// A full path such as `/sys/fs/cgroup/memory/<own>/glovebox-<id>/run-7/memory.limit_in_bytes` is seven or
/// eight kernfs components for the kernel to walk again at every open, and a run's cgroups were opened,
/// made, renamed and removed by path some forty times per run (BENCHMARKS.md, eighth round); relative to
/// the directory's descriptor each is one component. And an operation reaches the directory that was
/// opened: a rename of it keeps the descriptor.
///
/// `path` is for messages and tests only.
final class CgroupDirectory: @unchecked Sendable {
    // `name` and `path` change only in `rename`, called by the run that owns the directory before the run
    // is shared (CgroupV1Run.adopt); the descriptor is closed once, by its owner, at the end.
    private(set) var path: String
    private(set) var name: String
    let descriptor: FileDescriptor

    private init(path: String, name: String, descriptor: FileDescriptor) {
        self.path = path
        self.name = name
        self.descriptor = descriptor
    }

    /// Opens the directory at `path`.
    static func open(_ path: String) throws -> CgroupDirectory {
        let fd = try FileDescriptor.open(path, O_RDONLY | O_DIRECTORY)
        return CgroupDirectory(path: path, name: path.split(separator: "/").last.map(String.init) ?? path, descriptor: fd)
    }

    /// Makes the child `name` (EEXIST is an error: a run's cgroup is always new) and opens it.
    func makeChild(_ name: String) throws -> CgroupDirectory {
        let path = cgroupJoin(self.path, name)
        try syscallValue("mkdir", path) { mkdirat(descriptor.raw, name, 0o755) }
        do {
            return try openChild(name)
        } catch {
            _ = unlinkat(descriptor.raw, name, AT_REMOVEDIR)  // not left behind unnamed by any run
            throw error
        }
    }

    /// Opens the existing child `name`.
    func openChild(_ name: String) throws -> CgroupDirectory {
        let path = cgroupJoin(self.path, name)
        let fd = try syscallValue("open", path) { openat(descriptor.raw, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC) }
        return CgroupDirectory(path: path, name: name, descriptor: FileDescriptor(fd))
    }

    /// Removes the (empty) child `name`; one already gone is no error.
    func removeChild(_ name: String) throws {
        if unlinkat(descriptor.raw, name, AT_REMOVEDIR) == 0 || errno == ENOENT { return }
        throw SystemError("remove cgroup", cgroupJoin(path, name), errno: errno)
    }

    /// Renames the child `child` (within this directory, as cgroup v1 allows); its descriptor follows.
    func rename(_ child: CgroupDirectory, to newName: String) throws {
        try syscallValue("rename cgroup", child.path) { renameat(descriptor.raw, child.name, descriptor.raw, newName) }
        child.name = newName
        child.path = cgroupJoin(path, newName)
    }

    /// Opens the file `file` of this directory.
    func open(_ file: String, _ flags: Int32) throws -> FileDescriptor {
        let fd = try syscallValue("open", cgroupJoin(path, file)) { openat(descriptor.raw, file, flags | O_CLOEXEC) }
        return FileDescriptor(fd)
    }

    /// One write(2) of the whole text to `file`, as cgroupfs expects.
    func write(_ file: String, _ text: String) throws { try write(file, each: [text]) }

    /// One write(2) of each text to `file` through one descriptor: a file such as `devices.allow` takes a
    /// rule per write.
    func write(_ file: String, each texts: [String]) throws {
        if texts.isEmpty { return }
        let fd = try open(file, O_WRONLY)
        let path = cgroupJoin(self.path, file)
        for text in texts {
            let bytes = Array(text.utf8)
            let n = try bytes.withUnsafeBytes { b in try syscallValue("write", path) { Glibc.write(fd.raw, b.baseAddress, b.count) } }
            if n != bytes.count { throw SystemError("short write to", path, errno: EIO) }
        }
    }

    /// The contents of `file`, or nil when it cannot be read.
    func read(_ file: String) -> String? {
        guard let fd = try? open(file, O_RDONLY), let bytes = try? fd.readToEnd() else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `file` exists (`memory.memsw.limit_in_bytes` only where the kernel accounts swap).
    func has(_ file: String) -> Bool { faccessat(descriptor.raw, file, F_OK, 0) == 0 }

    func close() { descriptor.close() }
}
