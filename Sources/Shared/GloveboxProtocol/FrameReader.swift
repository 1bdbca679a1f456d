import CSystem
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Reads frames from a stream socket, buffered. With `acceptDescriptor`, the first descriptor that comes
/// with the data is kept (`descriptor`); any further one is a protocol error.
public final class FrameReader {
    public let fd: Int32
    private var buffer: [UInt8] = []
    private var start = 0
    private let acceptDescriptor: Bool
    public private(set) var descriptor: FileDescriptor?
    public private(set) var sawEOF = false

    public init(fd: Int32, acceptDescriptor: Bool = false) {
        self.fd = fd
        self.acceptDescriptor = acceptDescriptor
    }

    /// The next frame, or nil at a clean end of stream (between frames).
    public func next() throws -> Frame? {
        while true {
            if let frame = try parse() { return frame }
            if sawEOF {
                if buffer.count - start == 0 { return nil }
                throw ProtocolError.truncated
            }
            try fill()
        }
    }

    /// The next frame, which must arrive whole before `deadline` (monotonic seconds): a client that
    /// trickles bytes cannot hold a connection longer than that.
    public func next(deadline: Double) throws -> Frame? {
        while true {
            if let frame = try parse() { return frame }
            if sawEOF {
                if buffer.count - start == 0 { return nil }
                throw ProtocolError.truncated
            }
            let left = deadline - Monotonic.now()
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if left <= 0 || poll(&p, 1, Int32(left * 1000) + 1) == 0 { throw ProtocolError.timedOut }
            try fill()
        }
    }

    /// A complete frame already buffered, without reading.
    public func buffered() throws -> Frame? { try parse() }

    /// One read from the socket (blocks unless the caller polled first). Returns false at end of stream.
    /// Output streams through here a gigabyte at a time: when everything read so far is consumed, the
    /// socket is read straight into a new buffer (no zero-fill, no second copy).
    @discardableResult
    public func fill() throws -> Bool {
        var received: Int32 = -1
        var n = 0
        if start == buffer.count {
            buffer = [UInt8](unsafeUninitializedCapacity: Self.readSize) { storage, count in
                n = gb_recv_with_fd(fd, storage.baseAddress, storage.count, &received)
                count = max(n, 0)
            }
            start = 0
        } else {
            let tail = [UInt8](unsafeUninitializedCapacity: Self.readSize) { storage, count in
                n = gb_recv_with_fd(fd, storage.baseAddress, storage.count, &received)
                count = max(n, 0)
            }
            buffer += tail
        }
        if n < 0 {
            let err = errno
            if err == EBADMSG { throw ProtocolError.extraDescriptor }
            // A peer that died with data of ours unread resets the connection: it went away, like EOF
            // (a daemon must not take that for a protocol error and, say, cancel the run it left).
            if err == ECONNRESET {
                sawEOF = true
                return false
            }
            throw SystemError("read from socket", errno: err)
        }
        if received >= 0 {
            let got = FileDescriptor(received)
            if !acceptDescriptor || descriptor != nil { throw ProtocolError.extraDescriptor }
            descriptor = got
        }
        if n == 0 {
            sawEOF = true
            return false
        }
        return true
    }

    static let readSize = 128 << 10

    private func parse() throws -> Frame? {
        let available = buffer.count - start
        guard available >= 5 else { return nil }
        let length = Int(buffer[start]) << 24 | Int(buffer[start + 1]) << 16 | Int(buffer[start + 2]) << 8 | Int(buffer[start + 3])
        guard length >= 1 else { throw ProtocolError.malformed("zero-length frame") }
        guard length - 1 <= Frame.maxPayload else { throw ProtocolError.tooLarge(length - 1) }
        guard available >= 4 + length else { return nil }
        guard let kind = FrameKind(rawValue: buffer[start + 4]) else { throw ProtocolError.unknownKind(buffer[start + 4]) }
        let payload = Array(buffer[(start + 5)..<(start + 4 + length)])
        start += 4 + length
        if start > 1 << 20 { buffer.removeSubrange(0..<start); start = 0 }
        return Frame(kind, payload)
    }
}

/// Blocking, whole-frame writes.
public enum FrameWriter {
    public static func send(_ frame: Frame, to fd: Int32, descriptor: Int32 = -1) throws {
        let bytes = frame.encoded
        var offset = 0
        var pass = descriptor
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { gb_send_with_fd(fd, $0.baseAddress! + offset, bytes.count - offset, pass) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write to socket", errno: errno)
            }
            offset += n
            pass = -1
        }
    }
}

extension FrameWriter {
    /// Writes already-framed bytes.
    public static func sendRaw(_ bytes: [UInt8], to fd: Int32) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("write to socket", errno: errno)
            }
            offset += n
        }
    }
}
