import CSandbox
import CSystem
import GloveboxProtocol
import GloveboxSystem
import Logging
import Policy
import Records
import Sandbox
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// gloveboxd's core: owns the socket, the policies, the run records and the cgroup subtree, and gives
/// each client connection a thread of its own.
public final class Supervisor: Sendable {
    let config: DaemonConfig
    let logger: Logger
    let records: RecordStore
    let cgroups: CgroupHierarchy
    let policies: PolicyCatalog
    let uids: UIDPool
    /// The finished runs' kept output, within retention and quotas.
    let logs: LogStore
    /// How many refusals of each user are recorded.
    let refusals: RefusalLimiter
    let gate: AdmissionGate
    let gpus: GPUInventory
    let kernel: String
    /// /proc/cpuinfo's model name and the CPUs online, for every run's record.
    let cpuModel: String
    let hostCPUs: Int
    /// What runs' sandboxes are made with: the cgroups, network namespaces made between runs, the launcher
    /// and the warm-sandbox cache.
    let sandboxes: Sandboxes
    private let lock: FileDescriptor
    private let shutdownEvent: FileDescriptor
    /// The runs in flight, by id.
    private let active = Mutex<[Int64: ActiveRun]>([:])
    private let drained: FileDescriptor
    /// Connections being served. Past `maxConnections` a new one is told so and closed at once, so a
    /// client opening connections without end costs the daemon a descriptor each, briefly, not a thread.
    private let connections = Atomic<Int>(0)
    static let maxConnections = 1024
    /// Per client uid, so that one user cannot take every slot.
    private let connectionsByUID = Mutex<[uid_t: Int]>([:])
    static let maxConnectionsPerUID = 64
    /// Set when shutdown begins: a run that registers after that is cancelled at once.
    private let shuttingDown = Atomic<Bool>(false)

    /// `initProgram`: every run's pid 1, found and checked by the caller (InitProgram.locate).
    public init(config: DaemonConfig, initProgram: InitProgram, logger: Logger) throws {
        self.config = config
        self.logger = logger
        try FileIO.mkdir(config.stateDirectory, mode: 0o700)
        try FileIO.mkdir(config.stateDirectory + "/runs", mode: 0o700)
        try FileIO.mkdir(config.stateDirectory + "/images", mode: 0o700)
        try FileIO.mkdir(config.stateDirectory + "/logs", mode: 0o700)
        lock = try FileDescriptor.open(config.stateDirectory + "/gloveboxd.lock", O_RDWR | O_CREAT, mode: 0o600)
        if flock(lock.raw, LOCK_EX | LOCK_NB) != 0 {
            throw SandboxError.invalid("another gloveboxd is using the state directory \(config.stateDirectory)")
        }
        records = try RecordStore(path: config.stateDirectory + "/glovebox.db")
        refusals = RefusalLimiter(perMinute: config.refusalsPerMinute)
        logs = LogStore(directory: config.stateDirectory + "/logs", retention: config.logRetentionSeconds, totalQuota: config.logTotalBytes,
                        userQuota: config.logUserBytes, pruned: Self.auditPruned(records: records, config: config, logger: logger))
        // What can refuse the start comes before the daemon's cgroups are made, so that a refusal leaves none.
        try Self.checkHost(config)
        gpus = try GPUInventory.discover(configured: config.gpus)
        let instance = "glovebox-" + SHA256.hex(Array(config.stateDirectory.utf8)).prefix(12)
        cgroups = try CgroupHierarchy.detect(instance: instance)
        if let problem = HostSwap.problem(accounted: cgroups.accountsSwap) {
            cgroups.removeInstance()
            throw SandboxError.unavailable(problem)
        }
        logger.info("cgroups ready", metadata: ["hierarchy": "\(cgroups.description)", "swap accounted": "\(cgroups.accountsSwap)"])
        policies = PolicyCatalog.load(directory: config.policyDirectory, logger: logger)
        uids = UIDPool(base: config.sandboxUIDBase, count: config.sandboxUIDCount)
        gate = AdmissionGate(maxQueued: config.maxQueued, gpus: gpus.gpus.count)
        logger.info("GPU pool", metadata: ["gpus": "\(gpus.gpus.map(\.node.hostPath))", "control": "\(gpus.companions.map(\.hostPath))"])
        kernel = Self.kernelRelease()
        cpuModel = Self.cpuModel(FileIO.readIfPresent("/proc/cpuinfo") ?? "")
        hostCPUs = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        shutdownEvent = FileDescriptor(gb_eventfd())
        drained = FileDescriptor(gb_eventfd())
        let networks: NetworkNamespacePool?
        do {
            networks = try NetworkNamespacePool(capacity: 2, logger: logger)
        } catch {
            logger.error("no network namespaces ahead of need; each run makes its own", metadata: ["error": "\(error)"])
            networks = nil
        }
        sandboxes = Sandboxes(cgroups: cgroups, networks: networks, initProgram: initProgram, scratch: config.stateDirectory + "/root",
                              keepIdle: config.keepIdleSeconds, logger: logger)
        recover()
        do {
            try logs.start { [records] run in (try? records.run(id: run))?.clientUID }
        } catch {
            cgroups.removeInstance()
            throw error
        }
        do {
            try mountRunsDirectory()
        } catch {
            cgroups.removeInstance()
            throw error
        }
        do {
            try cgroups.startSpares(logger: logger)
        } catch {
            logger.error("no cgroups made ahead of need; each run makes its own", metadata: ["error": "\(error)"])
        }
        if let handler = CorePattern.pipeHandler() {
            logger.warning("kernel.core_pattern pipes core dumps to a program on the host; runs never reach it (RLIMIT_CORE 1, locked by seccomp), so a crash inside a run leaves no core",
                           metadata: ["handler": "\(handler)"])
        }
        let clamped = RunResourceLimits.clamped()
        if !clamped.isEmpty {
            logger.warning("without CAP_SYS_RESOURCE runs get the daemon's own lower hard limits", metadata: ["limits": "\(clamped.joined(separator: ", "))"])
        }
        for problem in policies.problems { audit(.policyRejected, problem) }
        audit(.daemonStart, "gloveboxd started: \(cgroups.description); templates \(policies.names.joined(separator: ", "))")
    }

    /// The mechanisms every run depends on; missing ones stop the daemon with a message instead of
    /// letting runs go ahead with less protection.
    private static func checkHost(_ config: DaemonConfig) throws {
        if gb_seccomp_available() < 0 { throw SandboxError.unavailable("seccomp (prctl PR_GET_SECCOMP failed)") }
        if let problem = SuidDumpable.problem() { throw SandboxError.unavailable(problem) }
        // The runs' uids and, just after them, their inits'.
        if let taken = Authorization.firstTakenID(in: config.sandboxUIDBase..<(config.initID + 1)) {
            throw SandboxError.invalid("the sandbox uid range \(config.sandboxUIDBase)+\(config.sandboxUIDCount) (and \(config.initID), the runs' init) holds \(taken); choose another [sandbox] uid_base")
        }
    }

    /// Runs left by a daemon that died: kill what is left of them, remove their cgroups and directories,
    /// and record them as supervisor-lost.
    private func recover() {
        // All killed before any is waited for: a run in a warm sandbox has its v1 cgroups under its
        // own name and its unified one (which kills) under the spare's.
        let leftovers = cgroups.leftoverRuns().compactMap { name in cgroups.adoptLeftover(name: name).map { (name, $0) } }
        for (_, cgroup) in leftovers { try? cgroup.killAll() }
        for (name, cgroup) in leftovers {
            guard cgroup.waitUntilEmpty(milliseconds: 5000) else {
                // Stuck in the kernel: the cgroup, and the run's uid, are kept until its processes are gone.
                let runID = name.hasPrefix("run-") ? Int64(name.dropFirst("run-".count)) : nil
                let uid = runID.flatMap { id in (try? records.run(id: id))?.sandboxUID }
                logger.error("a leftover run's processes did not die; its cgroup and uid are kept until they do",
                             metadata: ["run": "\(name)", "uid": "\(uid.map(String.init) ?? "unknown")"])
                let remains = Remains(cgroup: cgroup, initProcess: nil)
                if let uid { uids.quarantine(uid) { remains.isGone() } }
                continue
            }
            do { try cgroup.remove() } catch { logger.error("cannot remove leftover cgroup", metadata: ["run": "\(name)", "error": "\(error)"]) }
            if CgroupHierarchy.isSpare(name) { continue }  // made ahead of need, never used
            logger.warning("ended a run left by an earlier daemon", metadata: ["run": "\(name)"])
        }
        for name in FileIO.entries(of: config.stateDirectory + "/runs") {
            let dir = config.stateDirectory + "/runs/" + name
            // The daemon's mounts died with its mount namespace: only empty directories and an image are left.
            unlink(dir + "/volume.img")
            for sub in ["volume", "workspace", "lower", "root"] { _ = rmdir(dir + "/" + sub) }
            if rmdir(dir) != 0 { logger.error("cannot remove leftover run directory", metadata: ["path": "\(dir)", "errno": "\(errno)"]) }
        }
        // An image is unlinked as soon as its loop device holds it: one is left only by a crash in between.
        for name in FileIO.entries(of: imageDirectory) where name.hasSuffix(".img") { unlink(imageDirectory + "/" + name) }
        do {
            for var record in try records.unfinishedRuns() {
                record.status = .supervisorLost
                record.endedAt = Monotonic.wallNow()
                record.message = "the daemon stopped while the run was in progress; the run was ended at restart"
                try records.update(record)
                audit(.runLost, runID: record.id, uid: record.clientUID, template: record.template, record.message)
            }
        } catch {
            logger.error("cannot mark lost runs", metadata: ["error": "\(error)"])
        }
    }

    /// The runs' directories (mount points and their volumes' directories; nothing of a run's data) live on
    /// a tmpfs mounted over `<state>/runs` in the daemon's own mount namespace: making and removing them
    /// per run costs a fraction of what ext4's inode allocation does, and they vanish with the daemon.
    /// Loop volumes' images stay on disk, in `<state>/images`. Called after recover(), which clears what
    /// an older daemon left on the disk beneath.
    private func mountRunsDirectory() throws {
        let runs = config.stateDirectory + "/runs"
        try syscallValue("mount a tmpfs for the runs' directories at", runs) { gb_mount_tmpfs(runs, "size=64m,nr_inodes=262144,mode=0700") }
    }

    var imageDirectory: String { config.stateDirectory + "/images" }

    /// Why no run may start with the state filesystem as full as it is, or nil: every run writes its record,
    /// audit events and output there, and runs' disk-backed volumes' images live there.
    func stateSpaceProblem() -> String? {
        var fs = statvfs()
        guard statvfs(config.stateDirectory, &fs) == 0 else {
            return "cannot tell how much space the state filesystem (\(config.stateDirectory)) has: \(String(cString: strerror(errno)))"
        }
        let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
        let floor = config.stateMinFree.bytes(of: UInt64(fs.f_blocks) * UInt64(fs.f_frsize))
        guard free < floor else { return nil }
        let share = config.stateMinFree.description + (floor == 0 || config.stateMinFree == .bytes(floor) ? "" : " (\(ByteSize.format(floor)))")
        return "the state filesystem (\(config.stateDirectory)) has \(ByteSize.format(free)) free, below [paths] state_min_free "
            + "\(share): gloveboxd refuses runs until space is freed there"
    }

    /// The audit event of a pruned log (LogStore), with its run and owner.
    private static func auditPruned(records: RecordStore, config: DaemonConfig, logger: Logger) -> @Sendable (LogStore.Entry, LogStore.Reason) -> Void {
        { entry, reason in
            let limit: String
            switch reason {
            case .retention: limit = "[logs] retention \(DurationText.format(config.logRetentionSeconds))"
            case .user: limit = "[logs] user_bytes \(ByteSize.format(config.logUserBytes))"
            case .total: limit = "[logs] total_bytes \(ByteSize.format(config.logTotalBytes))"
            }
            let detail = "log of \(ByteSize.format(entry.bytes)) pruned: \(reason.rawValue) (\(limit))"
            do { try records.audit(.logPruned, runID: entry.run, uid: entry.uid, detail: detail) } catch {
                logger.critical("audit event lost", metadata: ["kind": "\(AuditKind.logPruned.rawValue)", "run": "\(entry.run)", "error": "\(error)"])
            }
            logger.info("log pruned", metadata: ["run": "\(entry.run)", "reason": "\(reason.rawValue)"])
        }
    }

    /// The first "model name" of /proc/cpuinfo (x86), else its first "Model" or "CPU part" line's value; "" when
    /// it names none.
    static func cpuModel(_ cpuinfo: String) -> String {
        for key in ["model name", "Model", "CPU part"] {
            for line in cpuinfo.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                guard parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == key else { continue }
                let value = parts[1].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { return value }
            }
        }
        return ""
    }

    /// What the run's record says of the machine, for `limits` and the GPUs leased (indices into `gpus`).
    func machineFacts(limits: Limits, leased: [Int]) -> MachineFacts {
        MachineFacts(kernel: kernel, cpuModel: cpuModel, hostCPUs: hostCPUs, cpus: min(limits.cpus, Double(hostCPUs)),
                     memoryLimitBytes: limits.memoryBytes,
                     gpus: leased.map { index in
                         let gpu = gpus.describe(index)
                         return LeasedGPU(device: gpu.device, name: gpu.name, uuid: gpu.uuid, driverVersion: gpu.driverVersion, problem: gpu.problem)
                     })
    }

    static func kernelRelease() -> String {
        var u = utsname()
        uname(&u)
        return withUnsafePointer(to: u.release) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
    }

    // MARK: - Serving

    /// Binds the socket and serves until `requestShutdown()`; then cancels the runs in flight, waits for
    /// their records, and removes the daemon's cgroup subtree.
    public func serve() throws {
        let (listener, passedBySystemd) = try bindSocket()
        defer {
            listener.close()
            // A socket systemd passed stays: gloveboxd.socket owns its path.
            if !passedBySystemd { unlink(config.socketPath) }
        }
        while true {
            var fds = [pollfd(fd: listener.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: shutdownEvent.raw, events: Int16(POLLIN), revents: 0)]
            if poll(&fds, 2, -1) < 0 { continue }
            if fds[1].revents != 0 { break }
            if fds[0].revents == 0 { continue }
            let client = gb_accept(listener.raw)
            if client < 0 { continue }
            if connections.add(1, ordering: .relaxed).newValue > Self.maxConnections {
                connections.subtract(1, ordering: .relaxed)
                logger.warning("connection refused: too many connections", metadata: ["limit": "\(Self.maxConnections)"])
                audit(.connectionRejected, "more than \(Self.maxConnections) connections")
                try? FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "gloveboxd is serving \(Self.maxConnections) connections; try again later")), to: client)
                close(client)
                continue
            }
            do {
                try spawnDetachedThread { [self] in
                    handle(connection: FileDescriptor(client))
                    connections.subtract(1, ordering: .relaxed)
                }
            } catch {
                connections.subtract(1, ordering: .relaxed)
                logger.error("cannot start a connection thread", metadata: ["error": "\(error)"])
                close(client)
            }
        }
        finishInFlight()
        sandboxes.warm.stop()
        cgroups.removeInstance()
        audit(.daemonStop, "gloveboxd stopped")
        logger.info("stopped")
    }

    public func requestShutdown() {
        var one: UInt64 = 1
        _ = write(shutdownEvent.raw, &one, 8)
    }

    /// At shutdown: cancel the runs in flight, or with [shutdown] runs = "wait" let them finish for up to
    /// the grace period first. Returns when every run is recorded.
    private func finishInFlight() {
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        if active.withLock({ $0.isEmpty }) { return }
        if config.shutdown == .wait {
            logger.info("waiting for runs in flight", metadata: ["grace": "\(config.shutdownGraceSeconds)"])
            waitForRuns(until: Monotonic.now() + config.shutdownGraceSeconds)
        }
        let runs = active.withLock { Array($0.values) }
        if runs.isEmpty { return }
        logger.info("cancelling runs in flight", metadata: ["count": "\(runs.count)"])
        for run in runs { run.cancel(reason: "the daemon is shutting down") }
        // Runs that registered meanwhile are cancelled by register(); each ends its outputs within bounds.
        waitForRuns(until: .infinity)
    }

    private func waitForRuns(until deadline: Double) {
        while !active.withLock({ $0.isEmpty }) {
            let left = deadline - Monotonic.now()
            if left <= 0 { return }
            var p = pollfd(fd: drained.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, Int32(min(left, 3600) * 1000))
            var counter: UInt64 = 0
            _ = read(drained.raw, &counter, 8)
        }
    }

    func register(_ run: ActiveRun) {
        active.withLock { $0[run.id] = run }
        if shuttingDown.load(ordering: .sequentiallyConsistent) { run.cancel(reason: "the daemon is shutting down") }
    }

    func activeRun(_ id: Int64) -> ActiveRun? { active.withLock { $0[id] } }

    func logPath(run id: Int64) -> String { logs.path(run: id) }

    func unregister(run: Int64) {
        _ = active.withLock { $0.removeValue(forKey: run) }
        var one: UInt64 = 1
        _ = write(drained.raw, &one, 8)
    }

    /// The listening socket: the one systemd passed (socket activation; systemd owns its path, mode and
    /// group, so it is neither bound, chmod'ed nor unlinked here) or, without one, the configured path,
    /// bound now. Returns whether systemd passed it. A failure removes the cgroup subtree made at start.
    private func bindSocket() throws -> (FileDescriptor, passedBySystemd: Bool) {
        do {
            if let passed = try SocketActivation.inherited() {
                logger.info("socket-activated: listening on the socket systemd passed", metadata: ["socket": "\(passed.path)"])
                if passed.path != config.socketPath {
                    logger.warning("the passed socket is not the configured one; [socket] path, group and mode do not apply",
                                   metadata: ["passed": "\(passed.path)", "configured": "\(config.socketPath)"])
                }
                return (passed.descriptor, true)
            }
            let fd = try bindConfiguredSocket()
            logger.info("listening", metadata: ["socket": "\(config.socketPath)"])
            return (fd, false)
        } catch {
            sandboxes.warm.stop()
            cgroups.removeInstance()
            throw error
        }
    }

    private func bindConfiguredSocket() throws -> FileDescriptor {
        let path = config.socketPath
        let parent = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        if !parent.isEmpty { try FileIO.mkdir(parent, mode: 0o755) }
        var st = stat()
        if lstat(path, &st) == 0 {
            guard (st.st_mode & S_IFMT) == S_IFSOCK else { throw SandboxError.invalid("\(path) exists and is not a socket") }
            unlink(path)
        }
        // Bound and listening under a temporary name, then renamed into place: a client never finds the path
        // before the daemon listens on it (it would get "connection refused").
        let staging = path + ".new"
        unlink(staging)
        let fd = FileDescriptor(try syscallValue("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) })
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(staging.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SandboxError.invalid("socket path too long: \(path) (at most \(MemoryLayout.size(ofValue: address.sun_path) - 5) bytes)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in raw.copyBytes(from: bytes) }
        try withUnsafePointer(to: &address) { p in
            try p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                _ = try syscallValue("bind", staging) { bind(fd.raw, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        do {
            if let group = config.socketGroup {
                guard let gid = Authorization.groupID(group) else { throw SandboxError.invalid("socket group '\(group)' does not exist") }
                try syscallValue("chown", staging) { chown(staging, 0, gid) }
            }
            try syscallValue("chmod", staging) { chmod(staging, mode_t(config.socketMode)) }
            try syscallValue("listen", staging) { listen(fd.raw, 128) }
            try syscallValue("rename the socket to", path) { rename(staging, path) }
        } catch {
            unlink(staging)
            throw error
        }
        return fd
    }

    // MARK: - Connections

    private func handle(connection: FileDescriptor) {
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
                try answerShow(try Wire.decode(ShowRequest.self, frame), peer: peer, connection: connection)
            case .psRequest:
                try answerPs(try Wire.decode(PsRequest.self, frame), peer: peer, connection: connection)
            case .logsRequest:
                try LogStreamer(supervisor: self, connection: connection, peer: peer).stream(try Wire.decode(LogsRequest.self, frame))
            case .killRequest:
                try answerKill(try Wire.decode(RunReference.self, frame), peer: peer, connection: connection)
            case .auditRequest:
                try answerAudit(try Wire.decode(AuditRequest.self, frame), peer: peer, connection: connection)
            case .policyRequest:
                try answerPolicies(try Wire.decode(PolicyRequest.self, frame), peer: peer, connection: connection)
            default:
                throw ProtocolError.unexpected(frame.kind)
            }
        } catch {
            logger.notice("bad request", metadata: ["uid": "\(uid)", "pid": "\(pid)", "error": "\(error)"])
            try? FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "bad request: \(error)")), to: connection.raw)
        }
    }

    /// Appends to the audit log. A failure is loud (the log says why, and a full disk is named) but does
    /// not stop the daemon: the run's own record is written separately.
    func audit(_ kind: AuditKind, runID: Int64? = nil, uid: UInt32? = nil, template: String? = nil, _ detail: String = "") {
        do {
            try records.audit(kind, runID: runID, uid: uid, template: template, detail: detail)
        } catch {
            auditLost(error, kind: kind, runID: runID)
        }
    }

    func auditLost(_ error: RecordError, kind: AuditKind, runID: Int64?) {
        logger.critical(error.isDiskFull ? "state disk full: audit event lost" : "audit event lost",
                        metadata: ["kind": "\(kind.rawValue)", "run": "\(runID.map(String.init) ?? "-")", "error": "\(error)"])
    }

    /// Root and members of the admin group see and kill every run; others only their own.
    func isAdmin(_ peer: Peer) -> Bool {
        if peer.uid == 0 { return true }
        guard let group = config.adminGroup else { return false }
        return Authorization.groups(of: Authorization.userName(peer.uid), primary: peer.gid).contains { gid in
            String(gid) == group || Authorization.groupName(gid) == group
        }
    }

    /// The record of a run the peer may see, or nil (no such run and someone else's run look the same).
    func visibleRecord(_ id: Int64, to peer: Peer) throws -> RunRecord? {
        guard let record = try records.run(id: id), record.clientUID == peer.uid || isAdmin(peer) else { return nil }
        return record
    }

    private func answerShow(_ show: ShowRequest, peer: Peer, connection: FileDescriptor) throws {
        guard let record = try visibleRecord(show.runID, to: peer) else {
            return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "no run \(show.runID) of yours")), to: connection.raw)
        }
        try FrameWriter.send(Wire.encode(.record, record), to: connection.raw)
    }

    private func answerPs(_ ps: PsRequest, peer: Peer, connection: FileDescriptor) throws {
        let owner: UInt32? = isAdmin(peer) ? nil : peer.uid
        let runs = try records.runs(clientUID: owner, status: ps.all ? nil : .running, limit: max(1, min(ps.limit, 1000)))
        try FrameWriter.send(Wire.encodeFitting(.runList, runs), to: connection.raw)
    }

    /// Admins see every event and may verify the chain; others see the events of their own runs.
    private func answerAudit(_ request: AuditRequest, peer: Peer, connection: FileDescriptor) throws {
        if request.verify {
            guard isAdmin(peer) else {
                return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "only root and the admin group may verify the audit log")), to: connection.raw)
            }
            let note: String
            if let problem = try records.verifyAudit() {
                note = problem.description
                logger.critical("audit log verification failed", metadata: ["problem": "\(problem)"])
            } else {
                note = "the audit log is intact (\(try records.auditEvents(limit: 1).first?.seq ?? 0) events)"
            }
            return try FrameWriter.send(Wire.encode(.done, OutputNote(path: "", reason: note)), to: connection.raw)
        }
        var events = try records.auditEvents(since: request.since, runID: request.runID, limit: max(1, min(request.limit, 100_000)))
        if !isAdmin(peer) { events = events.filter { $0.uid == peer.uid } }
        try FrameWriter.send(Wire.encodeFitting(.auditList, events, keepEnd: true), to: connection.raw)
    }

    /// Every template the daemon serves, marked usable or not for the peer; or one of them.
    private func answerPolicies(_ request: PolicyRequest, peer: Peer, connection: FileDescriptor) throws {
        var entries = policies.entries.values.map(\.policy).sorted { $0.template < $1.template }
        if let name = request.template {
            entries = entries.filter { $0.template == name }
            if entries.isEmpty {
                return try FrameWriter.send(Wire.encode(.error, ErrorMessage(message: "unknown template '\(name)'; templates: \(policies.names.joined(separator: ", "))")), to: connection.raw)
            }
        }
        let summaries = entries.map { PolicySummary($0, usable: Authorization.allows($0, uid: peer.uid, gid: peer.gid)) }
        try FrameWriter.send(Wire.encode(.policyList, summaries), to: connection.raw)
    }

    private func answerKill(_ kill: RunReference, peer: Peer, connection: FileDescriptor) throws {
        guard let record = try visibleRecord(kill.runID, to: peer) else {
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

struct Peer: Sendable {
    let pid: pid_t
    let uid: uid_t
    let gid: gid_t
    /// Its supplementary groups when it connected (SO_PEERGROUPS).
    let groups: [gid_t]
}
