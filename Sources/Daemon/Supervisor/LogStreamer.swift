import CSandbox
import GloveboxProtocol
import GloveboxSystem
import Records
#if canImport(Glibc)
import Glibc
#endif

/// `glovebox logs RUN [--follow]`: sends the run's kept output, and with --follow whatever comes next,
/// waking on the log's eventfd rather than polling, until the run ends or the client leaves. Then the
/// run's record if it is over.
struct LogStreamer {
    let supervisor: Supervisor
    let connection: FileDescriptor
    let peer: Peer

    func stream(_ request: LogsRequest) throws {
        guard try supervisor.queries.visibleRecord(request.runID, to: peer) != nil else {
            return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "no run \(request.runID) of yours")), to: connection.raw)
        }
        let wake = FileDescriptor(try syscallValue("eventfd") { gb_eventfd() })
        let active = request.follow ? supervisor.activeRun(request.runID) : nil
        active?.log.follow(wake.raw)
        defer { active?.log.unfollow(wake.raw) }
        // The file is made at the run's first output: none yet means nothing written yet.
        let path = supervisor.logPath(run: request.runID)
        var file: FileDescriptor?
        var offset: UInt64 = 0
        while true {
            let (size, finished) = active?.log.progress ?? (UInt64.max, true)
            if file == nil { file = try? FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW) }
            if let file { offset = try copy(from: file, at: offset, upTo: size) }
            if finished { break }
            // Wait for more output, the run's end, or the client going away.
            var fds = [pollfd(fd: wake.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: connection.raw, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 { continue }
            if fds[1].revents != 0 { return }
            var counter: UInt64 = 0
            _ = read(wake.raw, &counter, 8)
        }
        if file == nil, let pruned = try supervisor.records.auditEvents(runID: request.runID).last(where: { $0.kind == .logPruned }) {
            let note = "[glovebox: the output of run \(request.runID) is no longer kept: \(pruned.detail)]\n"
            try FrameWriter.send(Frame(.stderr, Array(note.utf8)), to: connection.raw)
        }
        if let record = try supervisor.records.run(id: request.runID), record.status != .running {
            try FrameWriter.send(Wire.encode(.finished, record), to: connection.raw)
        } else {
            try FrameWriter.send(Wire.encode(.logEnd, OutputNote(path: "", reason: "run \(request.runID) is still running")), to: connection.raw)
        }
    }

    /// Sends the log's bytes (already frames) from `offset` up to `limit` or end of file.
    private func copy(from file: FileDescriptor, at start: UInt64, upTo limit: UInt64) throws -> UInt64 {
        var offset = start
        var buffer = [UInt8](repeating: 0, count: 65536)
        while offset < limit {
            let want = Int(min(UInt64(buffer.count), limit - offset))
            let n = buffer.withUnsafeMutableBytes { pread(file.raw, $0.baseAddress, want, off_t(offset)) }
            if n <= 0 { break }
            try FrameWriter.sendRaw(Array(buffer[0..<n]), to: connection.raw)
            offset += UInt64(n)
        }
        return offset
    }
}
