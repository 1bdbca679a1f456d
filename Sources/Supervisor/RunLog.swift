import GloveboxProtocol
import GloveboxSystem
import Sandbox
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A run's stdout and stderr kept under the state directory, as the same frames the client receives, up
/// to a cap; past it one note says the rest was not kept. Readers (`glovebox logs --follow`) read the
/// file and wait on an eventfd of their own, which the writer signals after each append: no polling.
final class RunLog: Sendable {
    let path: String
    let cap: UInt64
    private let file: FileDescriptor
    private struct State {
        var size: UInt64 = 0
        var truncated = false
        var finished = false
        var followers: [Int32] = []
    }
    private let state = Mutex(State())

    init(path: String, cap: UInt64) throws {
        self.path = path
        self.cap = cap
        file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, mode: 0o600)
    }

    func append(_ stream: Sandbox.OutputStream, _ bytes: UnsafeRawBufferPointer) {
        let kind: FrameKind = stream == .stdout ? .stdout : .stderr
        state.withLock { s in
            if s.truncated { return }
            let header = Frame.header(kind: kind, payloadCount: bytes.count)
            if s.size + UInt64(header.count + bytes.count) > cap {
                let note = Array("\n[glovebox: output past \(cap) bytes was not kept in the log]\n".utf8)
                let frame = Frame(.stderr, note).encoded
                if (try? file.writeAll(frame)) != nil { s.size += UInt64(frame.count) }
                s.truncated = true
            } else if (try? file.writeAll(header)) != nil, (try? file.writeAll(bytes)) != nil {
                s.size += UInt64(header.count + bytes.count)
            }
            wake(s.followers)
        }
    }

    func finish() {
        state.withLock { s in
            s.finished = true
            wake(s.followers)
        }
        file.close()
    }

    /// Bytes written so far and whether the run is over, read together.
    var progress: (size: UInt64, finished: Bool) { state.withLock { ($0.size, $0.finished) } }

    func follow(_ eventfd: Int32) { state.withLock { $0.followers.append(eventfd) } }
    func unfollow(_ eventfd: Int32) { state.withLock { $0.followers.removeAll { $0 == eventfd } } }

    private func wake(_ fds: [Int32]) {
        var one: UInt64 = 1
        for fd in fds { _ = write(fd, &one, 8) }
    }
}

/// Writes a run's output to its log and, while it is attached, to the client that started it.
final class RunOutputSink: OutputSink {
    let client: ClientSink?
    let log: RunLog

    init(client: ClientSink?, log: RunLog) {
        self.client = client
        self.log = log
    }

    func output(_ stream: Sandbox.OutputStream, _ bytes: UnsafeRawBufferPointer) {
        log.append(stream, bytes)
        client?.output(stream, bytes)
    }

    var isBackedUp: Bool { client?.isBackedUp ?? false }
    var pendingDescriptor: Int32? { client?.pendingDescriptor }
    func writable() { client?.writable() }
}
