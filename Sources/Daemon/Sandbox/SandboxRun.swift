import CSandbox
import GloveboxSystem
import Logging
import PolicyModel
#if canImport(Glibc)
import Glibc
#endif

/// One run from preparation to cleanup. Owned and driven by one thread.
public final class SandboxRun: @unchecked Sendable {
    public struct Spec: Sendable {
        public var name: String               // "run-42": cgroup and directory name
        public var argv: [String]
        public var environment: [String: String]
        public var limits: Limits
        public var readOnlyPaths: [String]
        public var workdir: String            // inside the sandbox
        public var lower: FileDescriptor?     // the client's workdir, from ClientDirectory.reopen
        /// The client's uid and gid: its files in the workdir appear owned by the run's uid and gid.
        public var lowerOwner: (uid: uid_t, gid: gid_t)?
        /// Supplementary groups of the run's processes: its client's, for a run with a workdir.
        public var groups: [gid_t] = []
        /// The uid and gid of the run's init (LaunchSpec.initID).
        public var initID: uid_t = 0
        /// Device nodes beyond the standard ones (leased GPUs and their control nodes).
        public var devices: [DeviceNode] = []
        public var uid: uid_t
        public var gid: gid_t
        public var seccomp: SeccompProfile
        public var directory: String          // <state>/runs/<name>, created here
        /// A directory on disk for a loop volume's image (nil: beside the volume).
        public var imageDirectory: String?

        public init(name: String, argv: [String], environment: [String: String], limits: Limits, readOnlyPaths: [String],
                    workdir: String, lower: FileDescriptor?, uid: uid_t, gid: gid_t, seccomp: SeccompProfile, directory: String) {
            self.name = name; self.argv = argv; self.environment = environment; self.limits = limits
            self.readOnlyPaths = readOnlyPaths; self.workdir = workdir; self.lower = lower; self.uid = uid; self.gid = gid
            self.seccomp = seccomp; self.directory = directory
        }
    }

    public let spec: Spec
    /// The daemon's cgroups, launcher and warm-sandbox cache.
    private let sandboxes: Sandboxes
    let logger: Logger
    public private(set) var cgroup: RunCgroup?
    public private(set) var volume: StorageVolume?
    /// The run's /dev/shm.
    public private(set) var shm: SharedMemoryVolume?
    private var process: LaunchedProcess?
    /// The run's mount namespace, held from the launch to the cleanup: when the run's last process exits,
    /// the kernel then has no mount tree to tear down on the way (an RCU grace period and every mount's
    /// release, BENCHMARKS.md); it goes in the cleanup, after the client has its record.
    private var mountNamespace: FileDescriptor?
    private var startedAt = 0.0
    /// How long after SIGKILL the run's processes may take to go before they are taken to be stuck.
    public static let killGrace = 5.0
    /// Whether supervise() gave up waiting for processes that SIGKILL did not end.
    private var survivors = false
    /// What cleanup() could not remove because processes of the run would not die; nil when all is gone.
    public private(set) var remains: Remains?
    public private(set) var missingPaths: [String] = []
    private var overlay: String?
    private var plan: MountPlan?
    /// A warm sandbox that this run took: its process is the run's init once launched.
    private var warm: WarmSandbox?
    /// Whether the run took a warm sandbox (for the debug log's phases).
    public var madeAhead: Bool { warm != nil }

    /// Creates the run's cgroup and storage, taking a warm sandbox for its root where one is ready (its
    /// cgroups become the run's). On failure everything made so far is removed.
    public init(spec: Spec, in sandboxes: Sandboxes, logger: Logger) throws {
        self.spec = spec
        self.sandboxes = sandboxes
        self.logger = logger
        do {
            try FileIO.mkdir(spec.directory, mode: 0o700, existOK: false)
            try FileIO.mkdir(spec.directory + "/root", mode: 0o755)
            let volume = try StorageVolume(path: spec.directory + "/volume", capacityBytes: spec.limits.storageBytes, owner: spec.uid,
                                           group: spec.gid, image: spec.imageDirectory.map { $0 + "/" + spec.name + ".img" })
            self.volume = volume
            if let lower = spec.lower {
                // The copy-on-write view of the client's workdir, mounted in the daemon's private namespace:
                // the child binds it into its root. The overlay holds the directory from here on.
                let merged = spec.directory + "/workspace"
                try FileIO.mkdir(merged, mode: 0o755)
                guard let owner = spec.lowerOwner else { throw SandboxError.invalid("a workdir needs its owner's uid and gid") }
                let idmapped = try idmap(lower, owner: owner)
                defer { _ = gb_umount(idmapped); _ = rmdir(idmapped) }
                let options = "lowerdir=\(idmapped),upperdir=\(volume.upper),workdir=\(volume.overlayWork)"
                try syscallValue("mount the workspace overlay at", merged) { gb_mount_overlay(merged, options) }
                overlay = merged
                lower.close()
            }
            let shm = try SharedMemoryVolume(path: spec.directory + "/shm", capacityBytes: spec.limits.effectiveShmBytes)
            self.shm = shm
            let etc = try RunIdentity.write(in: spec.directory, uid: spec.uid, gid: spec.gid, home: spec.environment["HOME"] ?? spec.workdir)
            let plan = MountPlan(readOnlyPaths: spec.readOnlyPaths, workdir: spec.workdir, workspace: overlay ?? volume.upper,
                                 tmp: volume.tmp, shm: shm.path, etc: etc, extraDevices: spec.devices)
            self.plan = plan
            FaultInjection.hit(.beforeCgroup)
            let limits = CgroupLimits(memoryBytes: spec.limits.memoryBytes, pids: spec.limits.pids, cpus: spec.limits.cpus,
                                      devices: MountPlan.standardDevices + spec.devices.map(\.number))
            if let child = sandboxes.warm.take(plan) {
                // Its cgroups are the run's from here on, with the child in them: limited before it is handed
                // the run, and removed with the run's whatever happens.
                cgroup = child.cgroup
                warm = child
                try child.cgroup.adopt(as: spec.name, limits: limits)
            } else {
                cgroup = try sandboxes.cgroups.createRun(name: spec.name, limits: limits)
            }
        } catch {
            cleanup()
            throw error
        }
    }

    /// An idmapped, read-only clone of the client's workdir in which the client's files belong to the run's
    /// uid, so the run can change them (copy-on-write) as their owner would; returns where it is attached.
    /// There is no fallback to a plain layer: there, the run could rename a file of the workdir's root and
    /// have the overlay copy it up with the daemon's credentials, whatever its permissions. A filesystem
    /// that cannot be idmapped (NFS, FUSE, tmpfs before Linux 6.3, ...) is refused as a workdir. The
    /// overlay keeps a private clone of the layer, so the attachment is removed once the overlay is mounted.
    private func idmap(_ lower: FileDescriptor, owner: (uid: uid_t, gid: gid_t)) throws -> String {
        let target = spec.directory + "/lower"
        try FileIO.mkdir(target, mode: 0o700)
        let userns = FileDescriptor(try syscallValue("create an idmapping") { gb_idmap_userns(owner.uid, spec.uid, owner.gid, spec.gid) })
        guard gb_idmapped_bind(lower.raw, userns.raw, target) == 0 else {
            let e = errno
            _ = rmdir(target)
            throw SandboxError.invalid("the workdir's filesystem cannot be idmapped (\(String(cString: strerror(e)))); use a directory on ext4, xfs or btrfs")
        }
        return target
    }

    /// Starts the program. Throws if any step of the sandbox setup failed (nothing is left running). A run
    /// without a warm sandbox takes a network namespace made ahead, where there is one, for itself alone.
    public func start() throws {
        guard let cgroup, let plan else { throw SandboxError.invalid("run \(spec.name) was not prepared") }
        missingPaths = plan.missing
        startedAt = Monotonic.now()
        let deadline = startedAt + spec.limits.timeoutSeconds
        let launch = LaunchSpec(
            argv: spec.argv, environment: spec.environment, mounts: plan.run, workdir: spec.workdir, uid: spec.uid, gid: spec.gid,
            groups: spec.groups, initID: spec.initID,
            rlimits: RunResourceLimits.entries(),
            seccomp: spec.seccomp)
        var launched: LaunchedProcess?
        if let child = warm {
            if FaultInjection.setupFault == .spareGone {
                _ = gb_pidfd_send_signal(child.pidfd.raw, SIGKILL)
                var info = siginfo_t()
                while waitid(idtype_t(rawValue: 3 /* P_PIDFD */), id_t(child.pidfd.raw), &info, WEXITED | WNOWAIT) < 0 && errno == EINTR {}
            }
            do {
                launched = try sandboxes.launcher.launch(launch, child: child, deadline: deadline)
            } catch is SandboxLauncher.HandOverFailed {
                // Gone before it took the run (killed from outside): a child of the run's own, in the same
                // cgroups, once the gone one is reaped (it was sent SIGKILL too).
                SandboxLauncher.reap(pidfd: child.pidfd.raw)
                child.pidfd.close()
                logger.warning("a warm sandbox was gone; making the run's own", metadata: ["run": "\(spec.name)"])
            }
        }
        if launched == nil {
            let root = try sandboxes.warm.root(for: plan, scratch: spec.directory + "/root", deadline: deadline)
            let network = sandboxes.networks?.take()
            defer { network?.close() }
            launched = try sandboxes.launcher.launch(launch, root: root, network: network, cgroup: cgroup, deadline: deadline)
        }
        process = launched
        // The pid cannot be another process's: it is the unreaped child behind the pidfd. A program that is
        // already gone has released its namespace, and there is nothing to hold.
        if let process { mountNamespace = try? FileDescriptor.open("/proc/\(process.pid)/ns/mnt", O_RDONLY) }
    }

    /// What a readable control descriptor means for the run.
    public enum ControlAction: Sendable, Equatable {
        case none
        case cancel(String)
        /// Stop watching this descriptor (a client that went away); the run goes on.
        case detach
    }

    /// Runs the event loop until the run is over: the program's output goes to `sink` as it comes, the
    /// wall-clock deadline (monotonic, fixed at start) and OOM events end the run, and each readable
    /// descriptor in `controls` (the client's socket, a cancel eventfd) is handed to `onControl`.
    public func supervise(sink: OutputSink, controls: [Int32] = [], onControl: (Int32) -> ControlAction = { _ in .none }) -> RunOutcome {
        guard let process, let cgroup else {
            return RunOutcome(ending: .failed("run was not started"), wallSeconds: 0, stats: CgroupStats(), storageFull: false)
        }
        enum Watch { case initProcess, stream(Int), oom, control(Int32), sink }
        let deadline = startedAt + spec.limits.timeoutSeconds
        var ending: RunOutcome.Ending?
        var killedAt: Double?
        var initExited = false
        var streams: [(fd: FileDescriptor, kind: OutputStream)] = [(process.stdout, .stdout), (process.stderr, .stderr)]
        var openControls = controls
        var buffer = [UInt8](repeating: 0, count: 65536)
        var drainDeadline: Double?

        func end(_ reason: RunOutcome.Ending) {
            if ending == nil { ending = reason }
            if killedAt == nil {
                killedAt = Monotonic.now()
                do { try cgroup.killAll() } catch {
                    // The pid namespace dies with its init: that ends the run even without the cgroup.
                    logger.error("cannot kill the run's cgroup; killing its init", metadata: ["run": "\(spec.name)", "error": "\(error)"])
                    _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL)
                }
            }
        }

        var survivors = false
        while !(initExited && streams.isEmpty) {
            let now = Monotonic.now()
            if !initExited && now >= deadline { end(.timeout) }
            if initExited, let d = drainDeadline, now >= d { break }  // output held open by a process that would not die
            if !initExited, let k = killedAt, now >= k + Self.killGrace {
                // Killed and still there: a process stuck in the kernel, which init (pid 1) waits for before
                // it can end. The run is over; what is left of it is cleanup()'s (`remains`).
                logger.error("run's processes did not die after SIGKILL", metadata: ["run": "\(spec.name)", "seconds": "\(Self.killGrace)"])
                survivors = true
                break
            }
            var fds: [pollfd] = []
            var watches: [Watch] = []
            func watch(_ fd: Int32, _ events: Int32, _ w: Watch) {
                fds.append(pollfd(fd: fd, events: Int16(events), revents: 0))
                watches.append(w)
            }
            if !initExited { watch(process.pidfd.raw, POLLIN, .initProcess) }
            if !sink.isBackedUp { for (i, s) in streams.enumerated() { watch(s.fd.raw, POLLIN, .stream(i)) } }
            if let fd = sink.pendingDescriptor { watch(fd, POLLOUT, .sink) }
            if let oom = cgroup.oomEvents, ending == nil { watch(oom.raw, cgroup.oomEventsArePriority ? POLLPRI : POLLIN, .oom) }
            if ending == nil { for c in openControls { watch(c, POLLIN, .control(c)) } }
            let wakeAt = initExited ? (drainDeadline ?? now + 1) : killedAt.map { $0 + Self.killGrace } ?? deadline
            let timeout = Int32(max(0, min(60_000, (wakeAt - now) * 1000)).rounded(.up))
            if poll(&fds, nfds_t(fds.count), timeout) < 0 {
                if errno != EINTR { end(.failed("poll: \(String(cString: strerror(errno)))")) }
                continue
            }
            var closedStreams: [Int] = []
            for (p, w) in zip(fds, watches) where p.revents != 0 {
                switch w {
                case .initProcess:
                    initExited = true
                    drainDeadline = Monotonic.now() + 2
                    if killedAt == nil {
                        // The program is done: whatever it left behind goes with it.
                        killedAt = Monotonic.now()
                        try? cgroup.killAll()
                    }
                case .stream(let i):
                    let got = buffer.withUnsafeMutableBytes { read(p.fd, $0.baseAddress, $0.count) }
                    if got > 0 {
                        buffer.withUnsafeBytes { sink.output(streams[i].kind, UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
                    } else if got == 0 || (errno != EINTR && errno != EAGAIN) {
                        closedStreams.append(i)
                    }
                case .sink:
                    sink.writable()
                case .oom:
                    if cgroup.oomEventsArePriority == false {
                        var counter: UInt64 = 0
                        _ = read(p.fd, &counter, 8)
                        end(.outOfMemory)
                    } else if cgroup.stats().oomKills > 0 {
                        end(.outOfMemory)
                    }
                case .control(let fd):
                    switch onControl(fd) {
                    case .none: break
                    case .cancel(let reason): end(.cancelled(reason))
                    case .detach: openControls.removeAll { $0 == fd }
                    }
                    if p.revents & Int16(POLLERR | POLLNVAL) != 0 { openControls.removeAll { $0 == fd } }
                }
            }
            for i in closedStreams.sorted(by: >) { streams.remove(at: i) }
        }
        let wall = Monotonic.now() - startedAt
        if survivors {
            self.survivors = true
            return RunOutcome(ending: ending ?? .failed("the run's processes did not die"), wallSeconds: wall, stats: cgroup.stats(),
                              storageFull: volume?.isFull ?? false, shmFull: shm?.isFull ?? false, survivors: true)
        }
        let status = (try? process.status.readToEnd(limit: 16)) ?? []
        SandboxLauncher.reap(process)
        if !cgroup.waitUntilEmpty(milliseconds: 5000) {
            try? cgroup.killAll()
            if !cgroup.waitUntilEmpty(milliseconds: 5000) { logger.error("run cgroup not empty after kill", metadata: ["run": "\(spec.name)"]) }
        }
        let stats = cgroup.stats()
        if ending == nil {
            if stats.oomKills > 0 {
                ending = .outOfMemory
            } else if status.count == 4 {
                let raw = status.withUnsafeBytes { $0.loadUnaligned(as: Int32.self) }
                ending = (raw & 0x7f) == 0 ? .exited((raw >> 8) & 0xff) : .signaled(raw & 0x7f)
            } else {
                ending = .failed("the run's init ended without reporting the program's status")
            }
        }
        return RunOutcome(ending: ending!, wallSeconds: wall, stats: stats, storageFull: volume?.isFull ?? false, shmFull: shm?.isFull ?? false)
    }

    /// Removes everything the run made: processes (if any are left), cgroup, storage, directories.
    public func cleanup() {
        mountNamespace?.close()
        mountNamespace = nil
        if let child = warm {
            // Taken but never launched (a failure on the way): it is in the run's cgroups, and the run's to reap.
            if process == nil, child.pidfd.raw >= 0 {
                _ = gb_pidfd_send_signal(child.pidfd.raw, SIGKILL)
                SandboxLauncher.reap(pidfd: child.pidfd.raw)
            }
            child.control.close()
            warm = nil
        }
        if let cgroup {
            if let process { _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL) }
            try? cgroup.killAll()
            if cgroup.waitUntilEmpty(milliseconds: survivors ? 0 : 5000) {
                // Empty: init has left the cgroup on its way out, and is reaped at once.
                if let process { SandboxLauncher.reap(process) }
                do { try cgroup.remove() } catch { logger.error("cannot remove run cgroup", metadata: ["run": "\(spec.name)", "error": "\(error)"]) }
            } else {
                logger.error("run's processes did not die; its cgroup and uid are kept until they do", metadata: ["run": "\(spec.name)"])
                remains = Remains(cgroup: cgroup, initProcess: process?.pidfd)
            }
            self.cgroup = nil
        }
        process = nil
        if let overlay {
            if gb_umount(overlay) != 0 { logger.error("cannot unmount the workspace", metadata: ["path": "\(overlay)", "errno": "\(errno)"]) }
            _ = rmdir(overlay)
            self.overlay = nil
        }
        volume?.remove()
        volume = nil
        shm?.remove()
        shm = nil
        // The next run of this kind finds its setup child ready. Made now, not while this run's program runs
        // and ends: there it slowed the end by half a millisecond (the kernel's cgroup and namespace work
        // of both at once; BENCHMARKS.md).
        if let plan { sandboxes.warm.refill(plan) }
        for file in ["passwd", "group"] { unlink(spec.directory + "/" + file) }
        for sub in ["workspace", "lower", "root"] { _ = rmdir(spec.directory + "/" + sub) }
        _ = rmdir(spec.directory)
    }
}

/// What is left of a run whose processes SIGKILL did not end (stuck in the kernel, as on a hung network
/// filesystem): its cgroups, and its init, which the daemon must reap once it ends. Asked again later
/// (UIDPool), it kills, reaps and removes what it can, and says whether everything is gone.
public final class Remains: @unchecked Sendable {
    // Used by one thread at a time: the UID pool asks under its lock.
    private let cgroup: RunCgroup
    private var initProcess: FileDescriptor?

    /// `initProcess`: the run's init, a child of this daemon, to reap; nil for a run of an earlier daemon.
    public init(cgroup: RunCgroup, initProcess: FileDescriptor?) {
        self.cgroup = cgroup
        self.initProcess = initProcess
    }

    public var name: String { cgroup.name }

    /// Whether every process of the run is gone, its init reaped and its cgroups removed (done here).
    public func isGone() -> Bool {
        try? cgroup.killAll()
        guard cgroup.waitUntilEmpty(milliseconds: 0) else { return false }
        if let pidfd = initProcess {
            var info = siginfo_t()
            let rc = waitid(idtype_t(rawValue: 3 /* P_PIDFD */), id_t(pidfd.raw), &info, WEXITED | WNOHANG | __WALL)
            if rc == 0 && info._sifields._sigchld.si_pid == 0 { return false }  // still on its way out
            initProcess = nil
        }
        do { try cgroup.remove() } catch { return false }
        return true
    }
}
