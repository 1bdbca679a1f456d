import GloveboxSystem
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// systemd's socket activation (the sd_listen_fds(3) protocol, by hand): systemd binds the socket of
/// gloveboxd.socket and passes it as descriptor 3, with LISTEN_PID set to the daemon's pid and
/// LISTEN_FDS to the number of descriptors passed.
enum SocketActivation {
    /// The first passed descriptor (SD_LISTEN_FDS_START).
    static let firstDescriptor: Int32 = 3

    /// The listening socket systemd passed, with the path it is bound to (for the log).
    struct Passed {
        let descriptor: FileDescriptor
        let path: String
    }

    /// The socket systemd passed to this process, or nil when there is none (LISTEN_PID unset or naming
    /// another process: then the daemon binds its socket itself). Throws when the variables name this
    /// process but do not describe exactly one listening AF_UNIX stream socket. LISTEN_PID, LISTEN_FDS
    /// and LISTEN_FDNAMES are removed from the environment whenever LISTEN_PID is present, as
    /// sd_listen_fds(1) does. Call before any thread that reads the environment exists.
    static func inherited() throws -> Passed? {
        guard let pidText = environment("LISTEN_PID") else { return nil }
        let fdsText = environment("LISTEN_FDS")
        for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] { unsetenv(name) }
        guard let pid = pid_t(pidText), pid == getpid() else { return nil }
        guard let fdsText, let count = Int32(fdsText) else {
            throw SandboxError.invalid("socket activation: LISTEN_PID names this process but LISTEN_FDS is \(fdsText.map { "'\($0)'" } ?? "missing")")
        }
        guard count == 1 else {
            throw SandboxError.invalid("socket activation: LISTEN_FDS=\(count), but gloveboxd takes exactly one socket (one ListenStream= in gloveboxd.socket)")
        }
        let fd = firstDescriptor
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw SandboxError.invalid("socket activation: descriptor \(fd) is not open (\(String(cString: strerror(errno))))")
        }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SandboxError.invalid("socket activation: descriptor \(fd) is not a socket") }
        let domain = try option(fd, SO_DOMAIN), type = try option(fd, SO_TYPE), listening = try option(fd, SO_ACCEPTCONN)
        guard domain == AF_UNIX else {
            throw SandboxError.invalid("socket activation: descriptor \(fd) is not an AF_UNIX socket (domain \(domain)); gloveboxd.socket must use ListenStream=/path")
        }
        guard type == Int32(SOCK_STREAM.rawValue) else {
            throw SandboxError.invalid("socket activation: descriptor \(fd) is not a SOCK_STREAM socket (type \(type)); use ListenStream=")
        }
        guard listening == 1 else { throw SandboxError.invalid("socket activation: descriptor \(fd) is not listening") }
        _ = try syscallValue("fcntl(F_SETFD)", "socket activation") { fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC) }
        return Passed(descriptor: FileDescriptor(fd), path: boundPath(fd))
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        return String(cString: value)
    }

    private static func option(_ fd: Int32, _ name: Int32) throws -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        _ = try syscallValue("getsockopt", "socket activation") { getsockopt(fd, SOL_SOCKET, name, &value, &length) }
        return value
    }

    /// The path the socket is bound to ("(unnamed)" for an abstract or unbound one).
    private static func boundPath(_ fd: Int32) -> String {
        var address = sockaddr_un()
        var length = socklen_t(MemoryLayout<sockaddr_un>.size)
        let ok = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) == 0 }
        }
        let offset = MemoryLayout.offset(of: \sockaddr_un.sun_path)!
        guard ok, Int(length) > offset else { return "(unnamed)" }
        let bytes = withUnsafeBytes(of: &address.sun_path) { Array($0.prefix(Int(length) - offset)) }
        guard let first = bytes.first, first != 0 else { return "(unnamed)" }
        return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
