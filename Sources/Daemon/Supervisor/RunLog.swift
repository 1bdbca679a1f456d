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
/// The file is made at the run's first output: a run that writes nothing leaves none (creating an inode
/// on the state directory's filesystem was the daemon's largest single cost per run; BENCHMARKS.md).
final class RunLog: Sendable {
    let path: String
    let cap: UInt64
    private struct State {
        var file: FileDescriptor?
        /// Why the file could not be made; nothing more is kept then.
        var failure: String?
        var size: UInt64 = 0
        var truncated = false
        var finished = false
        var followers: [Int32] = []
    }
    private let state = Mutex(State())

    init(path: String, cap: UInt64) {
        self.path = path
        self.cap = cap
        // A file of the same name can only be an earlier database's: it must not pass for this run's output.
        unlink(path)
    }

    func append(_ stream: Sandbox.OutputStream, _ bytes: UnsafeRawBufferPointer) {
        let kind: FrameKind = stream == .stdout ? .stdout : .stderr
        state.withLock { s in
            if s.truncated { return }
            defer { wake(s.followers) }
            guard let file = s.file ?? open(&s) else { return }
            let header = Frame.header(kind: kind, payloadCount: bytes.count)
            if s.size + UInt64(header.count + bytes.count) > cap {
                let note = Array("\n[glovebox: output past \(cap) bytes was not kept in the log]\n".utf8)
                let frame = Frame(.stderr, note).encoded
                if (try? file.writeAll(frame)) != nil { s.size += UInt64(frame.count) }
                s.truncated = true
            } else if (try? file.writeAll(header)) != nil, (try? file.writeAll(bytes)) != nil {
                s.size += UInt64(header.count + bytes.count)
            }
        }
    }

    private func open(_ s: inout State) -> FileDescriptor? {
        do {
            let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW, mode: 0o600)
            s.file = file
            return file
        } catch {
            s.failure = "\(error)"
            s.truncated = true
            return nil
        }
    }

    /// Why the output could not be kept, if it could not.
    var failure: String? { state.withLock { $0.failure } }

    func finish() {
        state.withLock { s in
            s.finished = true
            wake(s.followers)
            s.file?.close()
        }
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
