import CSandbox
import CSetupChild
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A host path a prepared root binds (a policy's read-only path, a device node), opened for the bind
/// itself: openat2 with RESOLVE_NO_SYMLINKS, checked through the descriptor, and the bind's tree taken of
/// that descriptor (gb_detached_tree_of). What is checked is what is mounted, whatever the path leads to
/// a moment later, and a path cannot reach a place the policy rules forbid through a symlink on the way
/// (/var/run/docker.sock is /run/docker.sock). A read-only path is a directory or a regular file on a
/// filesystem that is not one of the kernel's: a socket or a FIFO bound read-only can still be connected to
/// or written, and /proc or /sys reached under another name are still /proc and /sys.
public enum BindSource {
    /// Kernel filesystems never bound, by statfs magic.
    static let kernelFilesystems: [Int: String] = [
        0x9fa0: "proc", 0x6265_6572: "sysfs", 0x1cd1: "devpts", 0x27e0eb: "cgroup", 0x6367_7270: "cgroup2",
        0x6462_6720: "debugfs", 0x7472_6163: "tracefs", 0x7363_6673: "securityfs", 0xcafe_4a11: "bpf",
        0x6265_6570: "configfs", 0x6e73_6673: "nsfs", 0x4249_4e4d: "binfmt_misc", 0x6165_676c: "pstore", 0xde5e_81e4: "efivarfs",
        0x6573_5546: "fusectl", 0xf97c_ff8c: "selinuxfs", 0x4341_5d53: "smackfs",
    ]

    /// `path` opened (O_PATH) for a bind of `kind` (GB_MOUNT_BIND_RO or GB_MOUNT_DEVICE), or why it may not be.
    public static func open(_ path: String, kind: Int32) throws -> FileDescriptor {
        let fd = gb_open_no_symlinks(path, 0o10000000 /* O_PATH */ | O_NOFOLLOW)
        guard fd >= 0 else {
            let err = errno
            if err == ELOOP, let (link, target) = firstSymlink(in: path) {
                throw SandboxError.invalid("'\(path)' passes through the symlink \(link) (-> \(target)): a path a sandbox binds must lead to its "
                    + "file without symlinks; name the path it leads to, which the policy's rules must then allow")
            }
            throw SandboxError.invalid("cannot open '\(path)' to bind it: \(String(cString: strerror(err)))")
        }
        let source = FileDescriptor(fd)
        if let problem = problem(source, path: path, kind: kind) { throw SandboxError.invalid(problem) }
        return source
    }

    /// Why `path` may never be a read-only path on this host, or nil (also when it does not exist, or is a
    /// symlink, which a root makes again rather than binds). For the daemon's start and --check-config.
    public static func readOnlyProblem(_ path: String) -> String? {
        var st = stat()
        guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK else { return nil }
        do { _ = try open(path, kind: Int32(GB_MOUNT_BIND_RO.rawValue)) } catch { return "\(error)" }
        return nil
    }

    private static func problem(_ source: FileDescriptor, path: String, kind: Int32) -> String? {
        var st = stat()
        guard fstat(source.raw, &st) == 0 else { return "cannot look at '\(path)': \(String(cString: strerror(errno)))" }
        let type = st.st_mode & S_IFMT
        if kind == Int32(GB_MOUNT_DEVICE.rawValue) {
            return type == S_IFCHR ? nil : "'\(path)' is not a character device"
        }
        guard type == S_IFDIR || type == S_IFREG else {
            let what = [S_IFSOCK: "a socket", S_IFIFO: "a FIFO", S_IFCHR: "a character device", S_IFBLK: "a block device"][type] ?? "not a file"
            return "'\(path)' is \(what): a read-only path must be a directory or a regular file (a socket or a FIFO bound read-only "
                + "can still be connected to or written)"
        }
        let magic = gb_fd_fs_magic(source.raw)
        guard magic >= 0 else { return "cannot look at the filesystem of '\(path)': \(String(cString: strerror(errno)))" }
        if let name = kernelFilesystems[magic] {
            return "'\(path)' is on \(name), a kernel filesystem, which is never bound into a sandbox"
        }
        return nil
    }

    /// The first symlink on `path`'s way and what it holds.
    private static func firstSymlink(in path: String) -> (String, String)? {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            var st = stat()
            guard lstat(prefix, &st) == 0 else { return nil }
            if (st.st_mode & S_IFMT) == S_IFLNK { return (prefix, FileIO.readLink(prefix) ?? "?") }
        }
        return nil
    }
}
