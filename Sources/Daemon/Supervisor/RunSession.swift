import CSandbox
import GloveboxProtocol
import GloveboxSystem
import Logging
import Policy
import Records
import Sandbox
#if canImport(Glibc)
import Glibc
#endif

/// One `glovebox run` from request to record: admission, preparation, supervision, outputs, cleanup.
final class RunSession {
    let supervisor: Supervisor
    let connection: FileDescriptor
    let reader: FrameReader
    let peer: Peer
    let request: RunRequest
    var logger: Logger

    init(supervisor: Supervisor, connection: FileDescriptor, reader: FrameReader, peer: Peer, request: RunRequest) {
        self.supervisor = supervisor
        self.connection = connection
        self.reader = reader
        self.peer = peer
        self.request = request
        logger = supervisor.logger
        logger[metadataKey: "uid"] = "\(peer.uid)"
        logger[metadataKey: "template"] = "\(request.template)"
    }

    struct Refusal: Error {
        let message: String
        init(_ message: String) { self.message = message }
    }

    struct Admitted {
        let entry: PolicyCatalog.Entry
        let limits: Limits
        let environment: [String: String]
        let workdir: FileDescriptor?
    }

    /// When each phase of this run ended, for the debug log (`--log-level debug`): where a run's time goes.
    private var phases = PhaseClock()
    /// Whether the run took a warm sandbox, for the same log.
    private var madeAhead = false

    func run() {
        var record = RunRecord(template: request.template, policyDigest: "", clientUID: peer.uid, clientPID: peer.pid,
                               argv: request.argv, startedAt: Monotonic.wallNow(), kernel: supervisor.kernel)
        let admitted: Admitted
        do {
            admitted = try admit(&record)
        } catch let refusal as Refusal {
            return refuse(&record, refusal.message)
        } catch {
            return refuse(&record, "\(error)")
        }
        // A cancel (or anything else) the client sent right behind its request is already buffered: act
        // on it now, as if it had come during the run.
        if let reason = bufferedControl() {
            record.status = .cancelled
            record.message = reason
            record.endedAt = Monotonic.wallNow()
            do { record.id = try supervisor.records.insert(record) } catch { logger.error("cannot record a cancelled request", metadata: ["error": "\(error)"]) }
            supervisor.audit(.runCancelled, runID: record.id == 0 ? nil : record.id, uid: peer.uid, template: request.template, reason)
            send(.finished, record)
            return
        }
        let constraints = capConstraints(admitted.entry.policy)
        guard let leased = waitForCaps(constraints, gpus: admitted.limits.gpus, policy: admitted.entry.policy, record: &record) else { return }
        defer { supervisor.gate.release(constraints, gpus: leased) }
        record.startedAt = Monotonic.wallNow()  // after any wait in the queue
        guard let uid = supervisor.uids.acquire() else {
            return refuse(&record, "all \(supervisor.config.sandboxUIDCount) sandbox uids are in use")
        }
        // Back to the pool once the run is entirely gone: at once, or when its stuck processes are.
        var remains: Remains?
        defer {
            if let remains {
                logger.warning("sandbox uid quarantined until the run's stuck processes are gone", metadata: ["uid": "\(uid)", "cgroup": "\(remains.name)"])
                supervisor.uids.quarantine(uid) { remains.isGone() }
            } else {
                supervisor.uids.release(uid)
            }
        }
        record.sandboxUID = uid
        record.machine = supervisor.machineFacts(limits: admitted.limits, leased: leased)
        let leasedNames = leased.map { supervisor.gpus.gpus[$0].node.hostPath }
        let accepted = AuditNote(.runAccepted, "argv \(ArgvSummary.text(request.argv)); limits \(record.limits.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }.joined(separator: " "))"
                                 + (leasedNames.isEmpty ? "" : "; GPUs \(leasedNames.joined(separator: ", "))"))
        do {
            // The record and its acceptance in one transaction.
            let (id, auditError) = try supervisor.records.insert(record, auditing: [accepted])
            record.id = id
            if let auditError { supervisor.auditLost(auditError, kind: .runAccepted, runID: id) }
        } catch {
            logger.error("cannot record run; refusing it", metadata: ["error": "\(error)"])
            send(.error, ErrorMessage(message: "the daemon cannot record runs: \(error)"))
            return
        }
        logger[metadataKey: "run"] = "\(record.id)"
        logger.info("run accepted", metadata: ["argv": "\(ArgvSummary.text(request.argv))"])
        send(.accepted, Accepted(runID: record.id, limits: admitted.limits))
        phases.mark("accepted")

        let log = RunLog(path: supervisor.logPath(run: record.id), cap: admitted.entry.policy.logBytes ?? supervisor.config.logOutputBytes)
        let active: ActiveRun
        do {
            active = try ActiveRun(id: record.id, ownerUID: peer.uid, template: request.template, argv: request.argv,
                                   startedAt: record.startedAt, log: log)
        } catch {
            finish(&record, status: .internalError, message: "cannot start watching the run: \(error)")
            return
        }
        supervisor.register(active)
        defer {
            log.finish()
            if let failure = log.failure { logger.error("the run's output was not kept", metadata: ["error": "\(failure)"]) }
            supervisor.unregister(run: record.id)
            supervisor.logs.kept(run: record.id, uid: peer.uid)
        }
        remains = execute(&record, admitted: admitted, uid: uid, active: active, gpus: leased)
    }

    // MARK: - Admission

    /// The caps this request counts against: the daemon's global and per-user ones, the template's own.
    private func capConstraints(_ policy: Policy) -> [AdmissionGate.Constraint] {
        let c = supervisor.config, t = policy.template, caps = policy.caps
        let who = Authorization.userName(peer.uid) ?? "uid \(peer.uid)"
        var list = [
            AdmissionGate.Constraint(key: "global", concurrent: c.maxConcurrentRuns, perHour: c.maxRunsPerHour, name: "runs on this server"),
            AdmissionGate.Constraint(key: "user:\(peer.uid)", concurrent: c.perUserConcurrentRuns, perHour: c.perUserRunsPerHour, name: "runs of \(who)"),
        ]
        if caps.concurrentRuns != nil || caps.runsPerHour != nil {
            list.append(.init(key: "template:\(t)", concurrent: caps.concurrentRuns, perHour: caps.runsPerHour, name: "runs of template '\(t)'"))
        }
        if caps.userConcurrentRuns != nil || caps.userRunsPerHour != nil {
            list.append(.init(key: "template-user:\(t):\(peer.uid)", concurrent: caps.userConcurrentRuns, perHour: caps.userRunsPerHour,
                              name: "runs of template '\(t)' by \(who)"))
        }
        return list
    }

    /// Admits the request under every cap, waiting in the queue (telling the client its place) or refusing,
    /// as the template or the daemon says. The GPUs leased to it, or nil when it did not get through (it
    /// is recorded).
    private func waitForCaps(_ constraints: [AdmissionGate.Constraint], gpus: Int, policy: Policy, record: inout RunRecord) -> [Int]? {
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
    private func bufferedControl() -> String? {
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

    private func admit(_ record: inout RunRecord) throws -> Admitted {
        try validateArgv()
        guard let entry = supervisor.policies.entries[request.template] else {
            let known = supervisor.policies.names
            throw Refusal("unknown template '\(request.template)'; templates: \(known.isEmpty ? "none" : known.joined(separator: ", "))")
        }
        let policy = entry.policy
        record.policyDigest = policy.digest
        guard Authorization.allows(policy, uid: peer.uid, gid: peer.gid) else {
            let who = Authorization.userName(peer.uid).map { "\($0) (uid \(peer.uid))" } ?? "uid \(peer.uid)"
            throw Refusal("\(who) may not use template '\(policy.template)'")
        }
        var environment = policy.environment
        for (name, value) in request.environment.sorted(by: { $0.key < $1.key }) {
            guard policy.passEnvironment.contains(name) else {
                let passes = policy.passEnvironment.isEmpty ? "none" : policy.passEnvironment.joined(separator: ", ")
                throw Refusal("template '\(policy.template)' does not pass environment variable \(name) (it passes: \(passes))")
            }
            guard !value.contains("\0"), !name.contains("\0") else { throw Refusal("environment variable \(name) contains a NUL byte") }
            environment[name] = value
        }
        let limits: Limits
        do {
            limits = try policy.limits.tightened(by: request.limits)
        } catch {
            throw Refusal("\(error) (template '\(policy.template)')")
        }
        record.limits = Self.recordLimits(limits)
        if let problem = supervisor.stateSpaceProblem() { throw Refusal(problem) }
        // Swap may have been turned on since the start, on a host that cannot limit it.
        if let problem = HostSwap.problem(accounted: supervisor.cgroups.accountsSwap) { throw Refusal(problem) }
        if limits.gpus > supervisor.gpus.gpus.count {
            throw Refusal("\(limits.gpus) GPU(s) asked for and this server has \(supervisor.gpus.gpus.count) (template '\(policy.template)')")
        }
        if request.outputs.count > 256 { throw Refusal("too many --output paths (\(request.outputs.count); at most 256: name directories instead)") }
        for path in request.outputs where WorkspaceOutputs.normalize(path) == nil {
            throw Refusal("output '\(path)' must be a relative path inside the workdir, without '..' or '.'")
        }
        if !request.outputs.isEmpty && !request.hasWorkdir { throw Refusal("--output needs --workdir: outputs are written back into the workdir") }
        var workdir: FileDescriptor?
        if request.hasWorkdir {
            guard let fd = reader.descriptor else { throw Refusal("the request said it carried a workdir descriptor and none came") }
            try validateWorkdir(fd)
            do { workdir = try ClientDirectory.reopen(fd) } catch { throw Refusal("\(error)") }
        } else if reader.descriptor != nil {
            throw Refusal("a descriptor came with a request that has no workdir")
        }
        return Admitted(entry: entry, limits: limits, environment: environment, workdir: workdir)
    }

    private func validateArgv() throws {
        guard let first = request.argv.first, !first.isEmpty else { throw Refusal("empty command: give a program to run") }
        guard request.argv.count <= 65_536 else { throw Refusal("too many arguments (\(request.argv.count); at most 65536)") }
        guard request.argv.reduce(0, { $0 + $1.utf8.count + 1 }) <= 512 * 1024 else { throw Refusal("arguments longer than 512 KiB in total") }
        if request.argv.contains(where: { $0.contains("\0") }) { throw Refusal("an argument contains a NUL byte") }
    }

    /// The workdir must be a directory the client opened for reading (an O_PATH descriptor proves nothing
    /// about the client's right to read it), and that the client may read and search: a run sees the
    /// workdir's top through its workspace, which it owns, so a directory the client could list but not
    /// enter would be open to its run. Checked by the kernel with the client's own uid, gid and groups.
    private func validateWorkdir(_ fd: FileDescriptor) throws {
        var st = stat()
        guard fstat(fd.raw, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw Refusal("the workdir descriptor is not a directory") }
        let flags = fcntl(fd.raw, F_GETFL)
        guard flags >= 0, flags & 0o10000000 == 0, flags & O_ACCMODE != O_WRONLY else {
            throw Refusal("the workdir descriptor was not opened for reading")
        }
        guard gb_access_as(fd.raw, peer.uid, peer.gid, peer.groups, Int32(peer.groups.count), R_OK | X_OK) == 0 else {
            let err = errno
            if err == EACCES {
                throw Refusal("the workdir may not be both read and searched by uid \(peer.uid) (its mode is \(String(st.st_mode & 0o7777, radix: 8)), "
                    + "owner \(st.st_uid), group \(st.st_gid)): a run gets no more of it than its client has")
            }
            throw Refusal("cannot check the workdir's permissions for uid \(peer.uid): \(String(cString: strerror(err)))")
        }
    }

    /// At most 64 arguments and 4 KiB of them, marked when cut.
    static func bounded(_ argv: [String]) -> [String] {
        var out: [String] = []
        var bytes = 0
        for arg in argv.prefix(64) {
            let room = 4096 - bytes
            if room <= 0 { break }
            out.append(arg.utf8.count <= room ? arg : String(decoding: arg.utf8.prefix(room), as: UTF8.self))
            bytes += min(arg.utf8.count, room)
        }
        if out.count < argv.count || bytes >= 4096 { out.append("[… \(argv.count) arguments in all, cut]") }
        return out
    }

    static func recordLimits(_ l: Limits) -> [String: Double] {
        ["timeout_seconds": l.timeoutSeconds, "memory_bytes": Double(l.memoryBytes), "pids": Double(l.pids),
         "cpus": l.cpus, "storage_bytes": Double(l.storageBytes), "gpus": Double(l.gpus)]
    }

    private func refuse(_ record: inout RunRecord, _ message: String) {
        // Anyone may be refused, as often as they like: what is kept of a refusal is bounded, and so is how
        // many are kept (RefusalLimiter).
        let (recorded, unrecorded) = supervisor.refusals.admit(peer.uid, now: Monotonic.now())
        guard recorded else {
            send(.error, ErrorMessage(message: message))
            return
        }
        record.argv = Self.bounded(record.argv)
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

    // MARK: - Running

    /// Runs the admitted request to its end and cleans up; returns what could not be removed (processes of
    /// the run that would not die), or nil.
    private func execute(_ record: inout RunRecord, admitted: Admitted, uid: UInt32, active: ActiveRun, gpus: [Int]) -> Remains? {
        let policy = admitted.entry.policy
        var spec = SandboxRun.Spec(
            name: "run-\(record.id)", argv: request.argv, environment: admitted.environment, limits: admitted.limits,
            readOnlyPaths: policy.readOnlyPaths, workdir: policy.workdir, lower: admitted.workdir, uid: uid, gid: uid,
            seccomp: admitted.entry.seccomp, directory: supervisor.config.stateDirectory + "/runs/run-\(record.id)")
        spec.lowerOwner = (peer.uid, peer.gid)
        spec.initID = supervisor.config.initID
        // The run acts as its client towards the workdir: in the client's groups, on files whose ids are
        // seen as on the host (the client's own as the run's). Without a workdir it needs none.
        if admitted.workdir != nil { spec.groups = peer.groups.filter { $0 != peer.gid } }
        spec.imageDirectory = supervisor.imageDirectory
        if !gpus.isEmpty {
            // The leased GPUs and the driver's control nodes, nothing else; CUDA is told which by UUID
            // where the driver says, so its numbering cannot point at another run's GPU.
            let leased = gpus.map { supervisor.gpus.gpus[$0] }
            spec.devices = leased.map(\.node) + supervisor.gpus.companions
            spec.environment["CUDA_VISIBLE_DEVICES"] = leased.enumerated().map { $0.element.uuid ?? String($0.offset) }.joined(separator: ",")
            spec.environment["NVIDIA_VISIBLE_DEVICES"] = leased.map { $0.uuid ?? $0.node.name }.joined(separator: ",")
            logger.info("GPUs leased", metadata: ["gpus": "\(leased.map(\.node.hostPath))"])
        }
        var sandbox: SandboxRun?
        defer { sandbox?.cleanup() }
        var remains: Remains?
        let outcome: RunOutcome
        do {
            let run = try SandboxRun(spec: spec, in: supervisor.sandboxes, logger: logger)
            sandbox = run
            phases.mark("prepared")
            madeAhead = run.madeAhead
            try run.start()
            phases.mark("launched")
            if !run.missingPaths.isEmpty { logger.warning("policy paths missing on this host", metadata: ["paths": "\(run.missingPaths)"]) }
            let client = ClientSink(fd: connection.raw)
            let sink = RunOutputSink(client: client, log: active.log)
            outcome = run.supervise(sink: sink, controls: [connection.raw, active.cancelEvent.raw]) { fd in
                control(fd, active: active, client: client, onDisconnect: admitted.entry.policy.onDisconnect)
            }
            client.drain()
        } catch {
            sandbox?.cleanup()
            remains = sandbox?.remains
            sandbox = nil
            if case SandboxError.invalid(let why) = error {
                finish(&record, status: .refused, message: why)
            } else if case SandboxError.startTimedOut = error {
                finish(&record, status: .timeout, message: "\(error)")
            } else if case SandboxError.execFailed(_, let err) = error {
                // The program itself could not be executed: the caller's mistake, reported like a shell does.
                finish(&record, status: .exitedNonzero, exitCode: err == ENOENT ? 127 : 126, message: "\(error)")
            } else {
                logger.error("run failed to start", metadata: ["error": "\(error)"])
                finish(&record, status: .internalError, message: "\(error)")
            }
            return remains
        }
        phases.mark("ended")
        apply(outcome, to: &record, limits: admitted.limits)
        saveRecord(record)
        phases.mark("recorded")
        if let volume = sandbox?.volume, !request.outputs.isEmpty {
            sendOutputs(from: volume, owner: uid, caps: .init(fileBytes: admitted.limits.outputFileBytes, totalBytes: admitted.limits.storageBytes), active: active)
        }
        // Every process of the run is dead (its cgroup killed and empty), its record saved and its outputs
        // sent: the client hears now. The empty cgroups, the volume and the run's directory go right after,
        // while this run still holds its place under the caps and its uid, so they cannot pile up.
        send(.finished, record)
        phases.mark("replied")
        sandbox?.cleanup()
        remains = sandbox?.remains
        sandbox = nil
        phases.mark("cleaned")
        logger.info("run finished", metadata: ["status": "\(record.status.rawValue)", "wall": "\(record.wallSeconds ?? 0)"])
        logger.debug("run phases", metadata: ["ms": "\(phases.description)", "sandbox": "\(madeAhead ? "made ahead" : "its own")"])
        return remains
    }

    /// A readable control descriptor: the run's cancel event (a kill, the daemon stopping), or the client's
    /// socket (a cancel frame, or the client going away: then the policy decides).
    private func control(_ fd: Int32, active: ActiveRun, client: ClientSink, onDisconnect: DisconnectAction) -> SandboxRun.ControlAction {
        if fd == active.cancelEvent.raw { return .cancel(active.reason ?? "cancelled") }
        do {
            if try !reader.fill() {
                client.detach()
                if onDisconnect == .cancel { return .cancel("the client disconnected") }
                logger.info("client detached; the run goes on")
                return .detach
            }
            while let frame = try reader.buffered() {
                if frame.kind == .cancel { return .cancel("cancelled by the client") }
                throw ProtocolError.unexpected(frame.kind)
            }
        } catch {
            return .cancel("protocol error from the client: \(error)")
        }
        return .none
    }

    private func apply(_ outcome: RunOutcome, to record: inout RunRecord, limits: Limits) {
        record.endedAt = Monotonic.wallNow()
        record.wallSeconds = outcome.wallSeconds
        record.userCPUSeconds = outcome.stats.userCPUSeconds
        record.systemCPUSeconds = outcome.stats.systemCPUSeconds
        record.peakMemoryBytes = outcome.stats.peakMemoryBytes
        var hits: [LimitHit] = []
        if outcome.stats.oomKills > 0 || outcome.ending == .outOfMemory { hits.append(.memory) }
        if outcome.stats.pidsLimitHits > 0 { hits.append(.pids) }
        if outcome.storageFull { hits.append(.storage) }
        if outcome.shmFull { hits.append(.shm) }
        if outcome.cpuThrottled { hits.append(.cpuThrottled) }
        record.limitsHit = hits
        switch outcome.ending {
        case .exited(let code):
            record.exitCode = code
            record.status = code == 0 ? .ok : .exitedNonzero
        case .signaled(let signal):
            record.signal = signal
            record.status = .signaled
        case .timeout:
            record.status = .timeout
            record.message = "ended at the wall-clock limit of \(DurationText.format(limits.timeoutSeconds))"
        case .outOfMemory:
            record.status = .oom
            record.message = "ended at the memory limit of \(ByteSize.format(limits.memoryBytes))"
        case .cancelled(let reason):
            record.status = .cancelled
            record.message = reason
        case .failed(let why):
            record.status = .internalError
            record.message = why
        }
        if outcome.survivors {
            let note = "processes of the run did not die \(DurationText.format(SandboxRun.killGrace)) after SIGKILL (stuck in the kernel); "
                + "its sandbox uid stays out of use until they are gone"
            record.message = record.message.isEmpty ? note : record.message + "; " + note
        }
    }

    private func finish(_ record: inout RunRecord, status: RunStatus, exitCode: Int32? = nil, message: String) {
        record.status = status
        record.exitCode = exitCode
        record.message = message
        record.endedAt = Monotonic.wallNow()
        saveRecord(record)
        send(.finished, record)
    }

    /// The run's final record, its limit hits and its end, in one transaction.
    private func saveRecord(_ record: RunRecord) {
        FaultInjection.hit(.writingRecord)
        let kind: AuditKind = record.status == .cancelled ? .runCancelled : .runFinished
        let outcome = record.exitCode.map { " exit \($0)" } ?? record.signal.map { " signal \($0)" } ?? ""
        let notes = record.limitsHit.map { AuditNote(.limitHit, $0.rawValue) }
            + [AuditNote(kind, record.status.rawValue + outcome + (record.message.isEmpty ? "" : ": \(record.message)"))]
        do {
            if let auditError = try supervisor.records.update(record, auditing: notes) {
                supervisor.auditLost(auditError, kind: kind, runID: record.id)
            }
        } catch {
            logger.critical(error.isDiskFull ? "state disk full: cannot save the run's record" : "cannot save the run's record",
                            metadata: ["error": "\(error)"])
            // The events still go in on their own, if they can.
            for note in notes { supervisor.audit(note.kind, runID: record.id, uid: record.clientUID, template: record.template, note.detail) }
        }
    }

    /// Sends the outputs within 2 minutes; a client that reads slower, or a kill or shutdown meanwhile,
    /// ends the delivery (the record is already saved), so no client can hold a finished run's resources.
    private func sendOutputs(from volume: StorageVolume, owner: uid_t, caps: WorkspaceOutputs.Caps, active: ActiveRun) {
        let deadline = Monotonic.now() + 120
        struct Abandoned: Error, CustomStringConvertible { let description: String }
        func check() throws {
            if Monotonic.now() > deadline { throw Abandoned(description: "the client took longer than 2 minutes to take the outputs") }
            var p = pollfd(fd: active.cancelEvent.raw, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 { throw Abandoned(description: active.reason ?? "cancelled") }
        }
        do {
            try WorkspaceOutputs.collect(upper: volume.upper, paths: request.outputs, owner: owner, caps: caps) { item in
                try check()
                switch item {
                case .directory(let path):
                    try FrameWriter.send(Wire.encode(.outputDirectory, OutputNote(path: path)), to: connection.raw)
                case .skipped(let path, let reason):
                    try FrameWriter.send(Wire.encode(.outputSkipped, OutputNote(path: path, reason: reason)), to: connection.raw)
                case .file(let path, let mode, let size, let descriptor):
                    try FrameWriter.send(Wire.encode(.outputFile, OutputFileHeader(path: path, mode: mode, size: size)), to: connection.raw)
                    FaultInjection.hit(.duringOutputs)
                    var left = size
                    while left > 0 {
                        try check()
                        let chunk = try descriptor.read(upTo: Int(min(left, 65536)))
                        if chunk.isEmpty { throw SystemError("read output", path, errno: EIO) }
                        try FrameWriter.send(Frame(.outputData, chunk), to: connection.raw)
                        left -= UInt64(chunk.count)
                    }
                }
            }
        } catch {
            logger.warning("outputs not delivered", metadata: ["error": "\(error)"])
        }
    }

    private func send<T: Encodable>(_ kind: FrameKind, _ value: T) {
        do { try FrameWriter.send(Wire.encode(kind, value), to: connection.raw) } catch {
            logger.debug("client gone", metadata: ["error": "\(error)"])
        }
    }
}

/// Milliseconds from a start to each named mark: "accepted 0.41 prepared 1.20 ...".
struct PhaseClock: CustomStringConvertible {
    private let start = Monotonic.now()
    private var marks: [(String, Double)] = []

    mutating func mark(_ name: String) { marks.append((name, Monotonic.now())) }

    var description: String {
        marks.map { mark in
            let hundredths = Int(((mark.1 - start) * 100_000).rounded())
            let fraction = hundredths % 100
            return "\(mark.0) \(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
        }.joined(separator: " ")
    }
}
