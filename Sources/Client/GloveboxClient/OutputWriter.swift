import CSystem
import GloveboxProtocol
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Writes the files a run sends back into the client's workdir, as the client's user, beneath the
/// directory descriptor the client opened: never through a symlink, never outside. Each file is written
/// to a temporary name and renamed into place, so a failure leaves the old file intact.
final class OutputWriter {
    let root: FileDescriptor
    private var current: (fd: FileDescriptor, parent: FileDescriptor, temp: String, name: String, left: UInt64, path: String)?
    private(set) var written: [String] = []
    private(set) var problems: [String] = []

    init(root: FileDescriptor) { self.root = root }

    func directory(_ path: String) {
        do { _ = try openDirectory(path, create: true) } catch { problems.append("\(path): \(error)") }
    }

    func begin(_ header: OutputFileHeader) {
        do {
            let (parentPath, name) = split(header.path)
            let parent = try openDirectory(parentPath, create: true)
            let temp = ".\(name).glovebox-\(getpid())"
            unlinkat(parent.raw, temp, 0)
            let fd = openat(parent.raw, temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode_t(header.mode & 0o755))
            guard fd >= 0 else { throw SystemError("create", header.path, errno: errno) }
            current = (FileDescriptor(fd), parent, temp, name, header.size, header.path)
            if header.size == 0 { commit() }
        } catch {
            problems.append("\(header.path): \(error)")
            current = nil
        }
    }

    func data(_ bytes: [UInt8]) throws {
        guard var c = current else { return }
        if UInt64(bytes.count) > c.left { throw ClientError("gloveboxd sent more bytes than announced for \(c.path)") }
        do { try c.fd.writeAll(bytes) } catch {
            problems.append("\(c.path): \(error)")
            unlinkat(c.parent.raw, c.temp, 0)
            current = nil
            return
        }
        c.left -= UInt64(bytes.count)
        current = c
        if c.left == 0 { commit() }
    }

    /// A file whose bytes stopped coming (the daemon gave up on a slow client): its temporary copy goes.
    func discardPartial() {
        guard let c = current else { return }
        current = nil
        c.fd.close()
        unlinkat(c.parent.raw, c.temp, 0)
        problems.append("\(c.path): incomplete, not written")
    }

    private func commit() {
        guard let c = current else { return }
        current = nil
        c.fd.close()
        if renameat(c.parent.raw, c.temp, c.parent.raw, c.name) != 0 {
            problems.append("\(c.path): cannot move into place: \(String(cString: strerror(errno)))")
            unlinkat(c.parent.raw, c.temp, 0)
        } else {
            written.append(c.path)
        }
    }

    private func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[..<slash]), String(path[path.index(after: slash)...]))
    }

    /// Opens (creating where asked) a directory beneath the root, one component at a time.
    private func openDirectory(_ path: String, create: Bool) throws -> FileDescriptor {
        var dir = FileDescriptor(try syscallValue("open workdir") { fcntl(root.raw, F_DUPFD_CLOEXEC, 3) })
        for component in path.split(separator: "/") {
            let name = String(component)
            if create { mkdirat(dir.raw, name, 0o755) }
            let next = gb_openat_beneath(dir.raw, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0)
            guard next >= 0 else { throw SystemError("open directory", path, errno: errno) }
            dir = FileDescriptor(next)
        }
        return dir
    }
}
