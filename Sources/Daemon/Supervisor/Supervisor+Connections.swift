import CSandbox
import CSystem
import GloveboxProtocol
import GloveboxSystem
import Logging
import Policy
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: its peer, its request, and the answer or the run it asks for.
extension Supervisor {
    func handle(connection: FileDescriptor) {
        var pid: pid_t = 0, uid: uid_t = 0, gid: gid_t = 0
        guard gb_peer_credentials(connection.raw, &pid, &uid, &gid) == 0 else { return }
        let peer = Peer(pid: pid, uid: uid, gid: gid, groups: Self.peerGroups(connection.raw))
        let admitted = connectionsByUID.withLock { counts -> Bool in
            if counts[uid, default: 0] >= Self.maxConnectionsPerUID { return false }
            counts[uid, default: 0] += 1
            return true
        }
        guard admitted else {
            logger.warning("connection refused: too many from one user", metadata: ["uid": "\(uid)", "limit": "\(Self.maxConnectionsPerUID)"])
            try? FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "uid \(uid) has \(Self.maxConnectionsPerUID) connections open; try again later")), to: connection.raw)
            return
        }
        defer { connectionsByUID.withLock { counts in counts[uid] = counts[uid, default: 1] > 1 ? counts[uid]! - 1 : nil } }
        // A client gets 10 s in all to send its request; a stalled reader blocks its own thread for at most 30 s a write.
        setTimeout(connection.raw, SO_SNDTIMEO, seconds: 30)
        let reader = FrameReader(fd: connection.raw, acceptDescriptor: true)
        do {
            guard let frame = try reader.next(deadline: Monotonic.now() + 10) else { return }
            switch frame.kind {
            case .runRequest:
                let request = try Wire.decode(RunRequest.self, frame)
                RunSession(supervisor: self, connection: connection, reader: reader, peer: peer, request: request).run()
            case .showRequest:
                try FrameWriter.send(try queries.show(try Wire.decode(ShowRequest.self, frame), peer: peer), to: connection.raw)
            case .psRequest:
                try FrameWriter.send(try queries.ps(try Wire.decode(PsRequest.self, frame), peer: peer), to: connection.raw)
            case .logsRequest:
                try LogStreamer(supervisor: self, connection: connection, peer: peer).stream(try Wire.decode(LogsRequest.self, frame))
            case .killRequest:
                try answerKill(try Wire.decode(RunReference.self, frame), peer: peer, connection: connection)
            case .auditRequest:
                try FrameWriter.send(try queries.audit(try Wire.decode(AuditRequest.self, frame), peer: peer), to: connection.raw)
            case .policyRequest:
                try FrameWriter.send(queries.policies(try Wire.decode(PolicyRequest.self, frame), peer: peer), to: connection.raw)
            default:
                throw ProtocolError.unexpected(frame.kind)
            }
        } catch {
            logger.notice("bad request", metadata: ["uid": "\(uid)", "pid": "\(pid)", "error": "\(error)"])
            try? FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "bad request: \(error)")), to: connection.raw)
        }
    }


    private func answerKill(_ kill: RunReference, peer: Peer, connection: FileDescriptor) throws {
        guard let record = try queries.visibleRecord(kill.runID, to: peer) else {
            return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "no run \(kill.runID) of yours")), to: connection.raw)
        }
        guard let run = activeRun(kill.runID) else {
            return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "run \(kill.runID) is not running (\(record.status.rawValue))")), to: connection.raw)
        }
        let who = Authorization.userName(peer.uid).map { "\($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
        run.cancel(reason: "killed by \(who)")
        audit(.runKilled, runID: kill.runID, uid: peer.uid, template: record.template, "killed by \(who)")
        logger.notice("run killed", metadata: ["run": "\(kill.runID)", "by": "\(who)"])
        try FrameWriter.send(Wire.encode(.done, OutputNote(path: "", reason: "run \(kill.runID) is being ended")), to: connection.raw)
    }

    /// The peer's supplementary groups (SO_PEERGROUPS); none where the kernel cannot say (then a workdir is
    /// checked, and mapped, with the client's uid and primary group alone: less than it may have, never more).
    static func peerGroups(_ fd: Int32) -> [gid_t] {
        var capacity = 64
        while true {
            var groups = [gid_t](repeating: 0, count: capacity)
            let n = gb_peer_groups(fd, &groups, Int32(capacity))
            if n >= 0 { return Array(groups.prefix(Int(n))) }
            if n == Int32.min { return [] }
            capacity = Int(-n - 1)
        }
    }

    private func setTimeout(_ fd: Int32, _ option: Int32, seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, option, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
}
