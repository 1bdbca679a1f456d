import Digests
import CSandbox
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
    let lock: FileDescriptor
    let shutdownEvent: FileDescriptor
    /// The runs in flight, by id.
    let active = Mutex<[Int64: ActiveRun]>([:])
    let drained: FileDescriptor
    /// Connections being served. Past `maxConnections` a new one is told so and closed at once, so a
    /// client opening connections without end costs the daemon a descriptor each, briefly, not a thread.
    let connections = Atomic<Int>(0)
    static let maxConnections = 1024
    /// Per client uid, so that one user cannot take every slot.
    let connectionsByUID = Mutex<[uid_t: Int]>([:])
    static let maxConnectionsPerUID = 64
    /// Set when shutdown begins: a run that registers after that is cancelled at once.
    let shuttingDown = Atomic<Bool>(false)

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
        let instance = "glovebox-" + sha256Hex(Array(config.stateDirectory.utf8)).prefix(12)
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

    /// The answers to show, ps, audit and policy requests.
    var queries: Queries {
        Queries(records: records, policies: policies, logger: logger, isAdmin: { [self] in isAdmin($0) })
    }

}

struct Peer: Sendable {
    let pid: pid_t
    let uid: uid_t
    let gid: gid_t
    /// Its supplementary groups when it connected (SO_PEERGROUPS).
    let groups: [gid_t]
}
