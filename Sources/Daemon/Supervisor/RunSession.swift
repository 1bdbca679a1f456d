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
        } catch let refusal as RunAdmission.Refusal {
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
        let constraints = RunAdmission.constraints(supervisor.config, policy: admitted.entry.policy, uid: peer.uid,
                                                   userName: Authorization.userName(peer.uid))
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
            let failure = StartFailure(error)
            if failure.status == .internalError { logger.error("run failed to start", metadata: ["error": "\(error)"]) }
            finish(&record, status: failure.status, exitCode: failure.exitCode, message: failure.message)
            return remains
        }
        phases.mark("ended")
        record.end(with: outcome, limits: admitted.limits, at: Monotonic.wallNow())
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
        let notes = record.closingNotes
        let kind = notes.last!.kind
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

    func send<T: Encodable>(_ kind: FrameKind, _ value: T) {
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
