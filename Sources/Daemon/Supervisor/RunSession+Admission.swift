import CSandbox
import GloveboxProtocol
import GloveboxSystem
import Policy
import RecordModel
import Records
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// A run's admission: the request checked (RunAdmission's rules, and the host's state and the client's
/// workdir descriptor), the caps waited for in the queue, and a refusal recorded and answered.
extension RunSession {
    /// Admits the request under every cap, waiting in the queue (telling the client its place) or refusing,
    /// as the template or the daemon says. The GPUs leased to it, or nil when it did not get through (it
    /// is recorded).
    func waitForCaps(_ constraints: [AdmissionGate.Constraint], gpus: Int, policy: Policy, record: inout RunRecord) -> [Int]? {
        let queue = (policy.caps.overCap ?? supervisor.config.overCap) == .queue
        let waiter: AdmissionGate.Waiter
        do { waiter = try AdmissionGate.Waiter(constraints, gpus: gpus) } catch {
            refuse(&record, "\(error)")
            return nil
        }
        var told: QueueNote?
        while true {
            switch supervisor.gate.request(waiter, queue: queue) {
            case .admitted(let leased):
                return leased
            case .refused(let why):
                refuse(&record, "over a cap: \(why)")
                return nil
            case .waiting(let why, let position, let retryAt):
                let note = QueueNote(position: position, reason: why)
                if note != told { send(.queued, note); told = note }
                var fds = [pollfd(fd: waiter.wake.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: connection.raw, events: Int16(POLLIN), revents: 0)]
                let timeout = retryAt.map { Int32(max(0, min(3_600_000, ($0 - Monotonic.now()) * 1000)).rounded(.up)) } ?? -1
                _ = poll(&fds, 2, timeout)
                var counter: UInt64 = 0
                _ = read(waiter.wake.raw, &counter, 8)
                if fds[1].revents != 0, let reason = clientLeftQueue() {
                    supervisor.gate.withdraw(waiter)
                    record.status = .cancelled
                    record.message = reason
                    record.endedAt = Monotonic.wallNow()
                    do { record.id = try supervisor.records.insert(record) } catch { logger.error("cannot record a run that left the queue", metadata: ["error": "\(error)"]) }
                    logger.info("request left the queue", metadata: ["reason": "\(reason)"])
                    supervisor.audit(.runCancelled, runID: record.id == 0 ? nil : record.id, uid: peer.uid, template: request.template, reason)
                    send(.finished, record)
                    return nil
                }
            }
        }
    }

    /// Frames that arrived with the request: a cancel, or a protocol error.
    func bufferedControl() -> String? {
        do {
            while let frame = try reader.buffered() {
                if frame.kind == .cancel { return "cancelled by the client" }
                throw ProtocolError.unexpected(frame.kind)
            }
        } catch {
            return "protocol error from the client: \(error)"
        }
        return nil
    }

    /// While queued, the client may only cancel (or go away).
    private func clientLeftQueue() -> String? {
        do {
            if try !reader.fill() { return "the client went away while waiting in the queue" }
            while let frame = try reader.buffered() {
                if frame.kind == .cancel { return "the client gave up waiting in the queue" }
                throw ProtocolError.unexpected(frame.kind)
            }
        } catch {
            return "protocol error from the client: \(error)"
        }
        return nil
    }

    /// The request checked against its template (RunAdmission) and the host, with the client's workdir
    /// reopened; a Refusal says why not.
    func admit(_ record: inout RunRecord) throws -> Admitted {
        try RunAdmission.checkArgv(request.argv)
        guard let entry = supervisor.policies.entries[request.template] else {
            throw RunAdmission.unknownTemplate(request.template, known: supervisor.policies.names)
        }
        let policy = entry.policy
        record.policyDigest = policy.digest
        guard Authorization.allows(policy, uid: peer.uid, gid: peer.gid) else {
            let who = Authorization.userName(peer.uid).map { "\($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
            throw RunAdmission.Refusal("\(who) may not use template '\(policy.template)'")
        }
        let environment = try RunAdmission.environment(policy, requested: request.environment)
        let limits = try RunAdmission.limits(policy, requested: request.limits)
        record.limits = RunAdmission.recordLimits(limits)
        if let problem = supervisor.stateSpaceProblem() { throw RunAdmission.Refusal(problem) }
        // Swap may have been turned on since the start, on a host that cannot limit it.
        if let problem = HostSwap.problem(accounted: supervisor.cgroups.accountsSwap) { throw RunAdmission.Refusal(problem) }
        try RunAdmission.checkGPUs(limits, available: supervisor.gpus.gpus.count, template: policy.template)
        try RunAdmission.checkOutputs(request.outputs, hasWorkdir: request.hasWorkdir)
        var workdir: FileDescriptor?
        if request.hasWorkdir {
            guard let fd = reader.descriptor else { throw RunAdmission.Refusal("the request said it carried a workdir descriptor and none came") }
            try validateWorkdir(fd)
            do { workdir = try ClientDirectory.reopen(fd) } catch { throw RunAdmission.Refusal("\(error)") }
        } else if reader.descriptor != nil {
            throw RunAdmission.Refusal("a descriptor came with a request that has no workdir")
        }
        return Admitted(entry: entry, limits: limits, environment: environment, workdir: workdir)
    }

    /// The workdir must be a directory the client opened for reading (an O_PATH descriptor proves nothing
    /// about the client's right to read it), and that the client may read and search: a run sees the
    /// workdir's top through its workspace, which it owns, so a directory the client could list but not
    /// enter would be open to its run. Checked by the kernel with the client's own uid, gid and groups.
    private func validateWorkdir(_ fd: FileDescriptor) throws {
        var st = stat()
        guard fstat(fd.raw, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw RunAdmission.Refusal("the workdir descriptor is not a directory") }
        let flags = fcntl(fd.raw, F_GETFL)
        guard flags >= 0, flags & 0o10000000 == 0, flags & O_ACCMODE != O_WRONLY else {
            throw RunAdmission.Refusal("the workdir descriptor was not opened for reading")
        }
        guard gb_access_as(fd.raw, peer.uid, peer.gid, peer.groups, Int32(peer.groups.count), R_OK | X_OK) == 0 else {
            let err = errno
            if err == EACCES {
                throw RunAdmission.Refusal("the workdir may not be both read and searched by uid \(peer.uid) (its mode is \(String(st.st_mode & 0o7777, radix: 8)), "
                    + "owner \(st.st_uid), group \(st.st_gid)): a run gets no more of it than its client has")
            }
            throw RunAdmission.Refusal("cannot check the workdir's permissions for uid \(peer.uid): \(String(cString: strerror(err)))")
        }
    }

    func refuse(_ record: inout RunRecord, _ message: String) {
        // Anyone may be refused, as often as they like: what is kept of a refusal is bounded, and so is how
        // many are kept (RefusalLimiter).
        let (recorded, unrecorded) = supervisor.refusals.admit(peer.uid, now: Monotonic.now())
        guard recorded else {
            send(.error, ErrorMessage(message: message))
            return
        }
        record.argv = RunAdmission.bounded(record.argv)
        record.template = String(record.template.prefix(64))
        record.status = .refused
        record.message = message.count > 1024 ? String(message.prefix(1024)) + "…" : message
        record.endedAt = Monotonic.wallNow()
        do {
            record.id = try supervisor.records.insert(record)
        } catch {
            logger.error("cannot record a refusal", metadata: ["error": "\(error)"])
        }
        logger.notice("run refused", metadata: ["reason": "\(message)"])
        let note = unrecorded == 0 ? "" : " (and \(unrecorded) refusals of this user before it, not recorded: over [caps] refusals_per_minute)"
        supervisor.audit(.runRefused, runID: record.id == 0 ? nil : record.id, uid: peer.uid, template: record.template, String(message.prefix(1024)) + note)
        send(.error, ErrorMessage(message: message, runID: record.id == 0 ? nil : record.id))
    }
}
