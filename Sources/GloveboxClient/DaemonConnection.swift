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
        reader = FrameReader(fd: fd)
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
