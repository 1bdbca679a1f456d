import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Turns the directory descriptor a client sent into one the daemon can mount from, without ever
/// resolving a client-controlled path that could be switched underneath.
///
/// The client's descriptor belongs to the client's mount namespace, which overlayfs will not take as a
/// layer from the daemon's own namespace. So the daemon looks up the path the kernel reports for it,
/// opens that path refusing every symlink on the way, and accepts the result only if it is the very same
/// directory (device and inode) the client opened. The client proved it could read the directory when it
/// opened it; a renamed or replaced path fails the comparison instead of mounting something else.
public enum ClientDirectory {
    public static func reopen(_ client: FileDescriptor) throws -> FileDescriptor {
        var original = stat()
        guard fstat(client.raw, &original) == 0, (original.st_mode & S_IFMT) == S_IFDIR else {
            throw SandboxError.invalid("the workdir descriptor is not a directory")
        }
        guard let path = FileIO.readLink("/proc/self/fd/\(client.raw)") else {
            throw SandboxError.invalid("cannot resolve the workdir descriptor: \(String(cString: strerror(errno)))")
        }
        guard path.hasPrefix("/") else { throw SandboxError.invalid("the workdir is not reachable by path from gloveboxd (\(path))") }
        let fd = gb_open_no_symlinks(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
        guard fd >= 0 else {
            throw SandboxError.invalid("the workdir \(path) cannot be opened without following symlinks: \(String(cString: strerror(errno)))")
        }
        let reopened = FileDescriptor(fd)
        var now = stat()
        guard fstat(fd, &now) == 0, now.st_dev == original.st_dev, now.st_ino == original.st_ino else {
            throw SandboxError.invalid("the workdir \(path) changed while the request was being admitted")
        }
        return reopened
    }
}
