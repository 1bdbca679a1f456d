import GloveboxProtocol
import GloveboxSystem
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// Streams a run's output to its client as frames without ever blocking the supervising loop: bytes the
/// socket cannot take yet wait here, and past `limit` the loop stops reading the program's pipes until the
/// client catches up. A client that went away stops receiving; the run's fate is the policy's, not the
/// socket's.
final class ClientSink: OutputSink {
    let fd: Int32
    private var pending: [UInt8] = []
    private var sent = 0
    private(set) var broken = false
    let limit = 256 << 10
    /// The limit and one more read of the program's pipe (64 KiB) with its frame header.
    private var capacity: Int { limit + (80 << 10) }

    init(fd: Int32) { self.fd = fd }

    func output(_ stream: Sandbox.OutputStream, _ bytes: UnsafeRawBufferPointer) {
        if broken { return }
        let header = Frame.header(kind: stream == .stdout ? .stdout : .stderr, payloadCount: bytes.count)
        // A client that keeps up gets the frame straight from the read buffer; only what the socket
        // cannot take now is copied to wait.
        let direct = sent == pending.count ? sendDirect(header, bytes) : 0
        if broken { return }
        let total = header.count + bytes.count
        // Room for all that may wait, allocated once: appending would double the capacity.
        if direct < total && pending.capacity < capacity { pending.reserveCapacity(capacity) }
        if direct < header.count {
            pending += header[direct...]
            pending += bytes
        } else if direct < total {
            pending += UnsafeRawBufferPointer(rebasing: bytes[(direct - header.count)...])
        }
        flush()
    }

    /// One sendmsg of header and payload together; returns how many bytes went (0 if none could).
    private func sendDirect(_ header: [UInt8], _ bytes: UnsafeRawBufferPointer) -> Int {
        header.withUnsafeBytes { h in
            var vectors = [iovec(iov_base: UnsafeMutableRawPointer(mutating: h.baseAddress), iov_len: h.count),
                           iovec(iov_base: UnsafeMutableRawPointer(mutating: bytes.baseAddress), iov_len: bytes.count)]
            return vectors.withUnsafeMutableBufferPointer { v in
                var message = msghdr()
                message.msg_iov = v.baseAddress
                message.msg_iovlen = v.count
                while true {
                    let n = sendmsg(fd, &message, Int32(MSG_DONTWAIT | MSG_NOSIGNAL))
                    if n >= 0 { return n }
                    if errno == EINTR { continue }
                    if errno != EAGAIN && errno != EWOULDBLOCK { broken = true; pending = []; sent = 0 }
                    return 0
                }
            }
        }
    }

    var isBackedUp: Bool { !broken && pending.count - sent > limit }
    var pendingDescriptor: Int32? { !broken && sent < pending.count ? fd : nil }
    func writable() { flush() }

    private func flush() {
        while sent < pending.count {
            let n = pending.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
            if n > 0 { sent += n; continue }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { break }
            broken = true
            pending = []
            sent = 0
            return
        }
        // What was sent is dropped once it reaches 64 KiB, so a run holds little more than the limit
        // waiting, not the megabyte of sent bytes it used to keep: with 10 slow clients that was the
        // difference between 25 and 36 MiB of daemon. A small buffer is kept for the next burst.
        if sent == pending.count {
            pending.removeAll(keepingCapacity: pending.capacity <= 64 << 10)
            sent = 0
        } else if sent >= 64 << 10 {
            pending.removeSubrange(0..<sent)
            sent = 0
        }
    }

    /// The client went away: nothing more is sent to it, and it holds nothing up.
    func detach() {
        broken = true
        pending = []
        sent = 0
    }

    /// Flush at the end of the run, within 30 s in all: a client that reads slower loses the rest (it
    /// stays in the run's log).
    func drain() {
        let deadline = Monotonic.now() + 30
        while !broken && sent < pending.count {
            let left = deadline - Monotonic.now()
            var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
            if left <= 0 || poll(&p, 1, Int32(left * 1000) + 1) <= 0 { detach(); return }
            flush()
        }
    }
}
