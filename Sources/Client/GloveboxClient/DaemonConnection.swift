import CSystem
import GloveboxProtocol
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A connection to gloveboxd's Unix socket.
public final class DaemonConnection {
    public static let defaultSocket = "/run/glovebox/glovebox.sock"
    public let socket: FileDescriptor
    let reader: FrameReader

    /// `path`, else $GLOVEBOX_SOCKET, else the default.
    public static func socketPath(_ path: String?) -> String {
        if let path, !path.isEmpty { return path }
        if let env = getenv("GLOVEBOX_SOCKET"), env.pointee != 0 { return String(cString: env) }
        return defaultSocket
    }

    public init(path: String) throws {
        let fd = socket_(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ClientError("cannot create a socket: \(String(cString: strerror(errno)))") }
        socket = FileDescriptor(fd)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw ClientError("socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            throw ClientError("cannot reach gloveboxd at \(path): \(String(cString: strerror(errno))) (is the daemon running? --socket or GLOVEBOX_SOCKET name another)")
        }
        try Self.checkPeerIsRoot(fd, path: path)
        reader = FrameReader(fd: fd)
    }

    /// gloveboxd runs as root, and so does systemd where it holds the socket for it. Anyone else listening
    /// at the path (a stale or hijacked socket, a mistyped --socket) must be sent nothing: no request, and
    /// above all no descriptor of the client's workdir.
    static func checkPeerIsRoot(_ fd: Int32, path: String) throws {
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        guard gb_peer_credentials(fd, &pid, &uid, &gid) == 0 else {
            throw ClientError("cannot tell who listens at \(path) (SO_PEERCRED: \(String(cString: strerror(errno)))); nothing was sent")
        }
        guard uid == 0 else {
            throw ClientError("refusing to talk to \(path): it is held by uid \(uid) (pid \(pid)), not by root as gloveboxd is; "
                + "nothing was sent. Check --socket or GLOVEBOX_SOCKET, or ask the operator whose socket this is")
        }
    }

    public func send(_ frame: Frame, descriptor: Int32 = -1) throws {
        do { try FrameWriter.send(frame, to: socket.raw, descriptor: descriptor) } catch {
            // The daemon may have said why before closing (too many connections): prefer its words.
            if let reply = try? reader.next(), reply.kind == .error, let message = try? Wire.decode(ErrorMessage.self, reply) {
                throw ClientError(message.message)
            }
            throw ClientError("lost the connection to gloveboxd: \(error)")
        }
    }

    public func next() throws -> Frame {
        do {
            guard let frame = try reader.next() else { throw ClientError("gloveboxd closed the connection before the run's record arrived") }
            return frame
        } catch let error as ClientError {
            throw error
        } catch {
            throw ClientError("lost the connection to gloveboxd: \(error)")
        }
    }
}

private func socket_(_ domain: Int32, _ type: Int32, _ proto: Int32) -> Int32 { socket(domain, type, proto) }
