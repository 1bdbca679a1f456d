import CSandbox
import GloveboxSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A setup child made ahead of need (SpareSandboxes): in a fresh pid, ipc, uts, cgroup and network
/// namespace, in cgroups of its own without the run's limits yet, in a copy of a prepared root with /proc
/// mounted, waiting as root on its control socket for a run. Nothing else can reach it: the control
/// socket's other end is the daemon's alone, and its pid namespace has no other process.
final class SetupChild: @unchecked Sendable {
    // Mutated under SpareSandboxes' lock, or by the one thread that owns the child in its state.
    let key: MountPlan.RootKey
    /// When it is let go if no run has taken it: as long after it started being made as a root no run takes
    /// is kept (PreparedRoots.keepIdle). Whether it serves a run is also its root's (PreparedRoots.serves):
    /// it is a copy of that root.
    let expires: Double
    let cgroup: RunCgroup
    /// The daemon's end of the control socket.
    let control: FileDescriptor
    /// The child's end, in the daemon: closed once the child is ready (it has its own copy by then).
    var childEnd: FileDescriptor?
    var network: FileDescriptor?
    var root: PreparedRoot?
    /// Where clone3 stores the child's pidfd (the maker's own, closed by the maker: a run gets a copy) and
    /// its pid, before the child runs.
    let pidfdSlot: UnsafeMutablePointer<Int32>
    let pidSlot: UnsafeMutablePointer<pid_t>
    /// The run's copy of the pidfd, made when a run takes the child.
    var pidfd: FileDescriptor { runPidfd! }
    private(set) var runPidfd: FileDescriptor?

    enum State {
        /// In the pool (being made, or ready).
        case waiting
        /// Taken by a run, which owns it from then on: its cgroup, its process, its reaping.
        case running
        /// Let go (expired, failed, the daemon stopping): its maker kills nothing but cleans up once it exits.
        case abandoned
    }
    var state = State.waiting

    init(key: MountPlan.RootKey, expires: Double, cgroup: RunCgroup, control: SetupControl, network: FileDescriptor?, root: PreparedRoot) {
        self.key = key
        self.expires = expires
        self.cgroup = cgroup
        self.control = control.daemonEnd
        childEnd = control.childEnd
        self.network = network
        self.root = root
        pidfdSlot = .allocate(capacity: 1)
        pidfdSlot.initialize(to: -1)
        pidSlot = .allocate(capacity: 1)
        pidSlot.initialize(to: 0)
    }

    deinit {
        pidfdSlot.deallocate()
        pidSlot.deallocate()
    }

    /// Taken by a run, under the pool's lock, once the child has said it is ready: the descriptors it no
    /// longer needs are closed (it has joined the network namespace and copied the root), and the run gets
    /// its own copy of the pidfd.
    fileprivate func takeForRun() throws {
        let copy = fcntl(pidfdSlot.pointee, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw SystemError("duplicate a setup child's pidfd", errno: errno) }
        runPidfd = FileDescriptor(copy)
        childEnd?.close()
        childEnd = nil
        network?.close()
        network = nil
        root = nil
        state = .running
    }
}

/// Setup children made ahead of need, one for each kind of root (a policy, with a set of leased GPUs)
/// that runs have used lately. A run that finds one ready for its root takes it: its launch is then only
/// the run's own part (its mounts, user, descriptors and program), well short of a child made for it
/// (BENCHMARKS.md). The next one is made when a run of that root has ended and been cleaned up, by a
/// thread that stays the child's parent until the child's run is over: the parent-death signal that ends
/// a run with the daemon is tied to the thread that made the child.
///
/// A child serves only while its root does (PreparedRoots.serves): it is a copy of that root, and a
/// filesystem mounted on the host below a policy's read-only path must reach runs that start later. One
/// whose root no longer serves is let go when a run finds it; one no run takes is let go as long after it
/// was made as an unused root is kept (the daemon's `[sandbox] keep_idle`, 60 s by default), so that an
/// agent's next run, which comes after it has thought for a while, still finds it. Let go, its control
/// socket is closed, it is killed, its maker removes its cgroups. At rest nothing wakes after that.
///
/// One per process: gloveboxd serves one state directory and one cgroup subtree (start() takes its
/// hierarchy); a second Supervisor in the same process would share it.
public final class SpareSandboxes: Sendable {
    public static let shared = SpareSandboxes()

    private struct Config {
        let cgroups: CgroupHierarchy
        let networks: NetworkNamespacePool?
        let scratch: String
        let logger: Logger
    }

    private struct State {
        var config: Config?
        var stopped = false
        var children: [MountPlan.RootKey: SetupChild] = [:]
        /// Kinds with a maker between its start and its child's registration.
        var making: Set<MountPlan.RootKey> = []
        /// Makers whose child no run has taken, until they have cleaned up after it: stop() waits for them.
        var makers = 0
        var timer = OneShotTimer()
        var reaperStarted = false
        /// Failures already logged.
        var failures: Set<String> = []
    }
    private let state = Mutex(State())
    /// How much nicer than runs the makers are.
    static let makerNiceness: Int32 = 10

    private init() {}

    /// Starts making children ahead of need (the daemon, once leftovers are removed). `scratch`: an empty
    /// directory of the daemon's for building prepared roots.
    public func start(cgroups: CgroupHierarchy, networks: NetworkNamespacePool?, scratch: String, logger: Logger) throws {
        try FileIO.mkdir(scratch, mode: 0o700)
        state.withLock { s in
            s.config = Config(cgroups: cgroups, networks: networks, scratch: scratch, logger: logger)
            s.stopped = false
        }
    }

    /// Lets every waiting child go and waits until their makers have cleaned up (the daemon, stopping,
    /// before it removes its cgroups). Children taken by runs belong to the runs.
    public func stop() {
        let children: [SetupChild] = state.withLock { s in
            s.stopped = true
            s.config = nil
            defer { s.children = [:] }
            return Array(s.children.values)
        }
        for child in children { abandon(child) }
        let deadline = Monotonic.now() + 10
        while state.withLock({ $0.makers }) > 0 && Monotonic.now() < deadline { usleep(1000) }
    }

    /// A ready child for `plan`'s root, taken for a run; nil when there is none (the run makes its own).
    /// One whose root no longer serves (the host changed under the policy's paths: PreparedRoots) is let go.
    func take(_ plan: MountPlan) -> SetupChild? {
        let key = plan.rootKey
        guard let root = state.withLock({ $0.children[key]?.root }) else { return nil }
        // Outside the lock: it may look at the host (mountinfo, a stat of each path).
        let serves = PreparedRoots.shared.serves(root, key: key)
        return state.withLock { s -> SetupChild? in
            guard let child = s.children[key], child.root === root else { return nil }
            if !serves || Monotonic.now() >= child.expires {
                s.children[key] = nil
                abandonLocked(child)
                return nil
            }
            // Not ready yet (still setting up): the run does not wait for it, and it stays for the next.
            var report = gb_error_report()
            switch gb_setup_report(child.control.raw, &report) {
            case 0:
                return nil
            case 1 where report.step == 0:
                s.children[key] = nil
                do {
                    try child.takeForRun()
                    return child
                } catch {
                    abandonLocked(child)
                    return nil
                }
            default:
                s.children[key] = nil
                let failure = SandboxLauncher.failureText(report) ?? "it exited before it was ready"
                if s.failures.insert(failure).inserted {
                    s.config?.logger.error("a sandbox made ahead of need failed; runs make their own", metadata: ["error": "\(failure)"])
                }
                abandonLocked(child)
                return nil
            }
        }
    }

    /// Lets go the waiting children made from any of `roots`, which PreparedRoots no longer keeps (out of
    /// date, replaced, evicted or unused): none of them could serve a run.
    func letGo(madeFrom roots: [PreparedRoot]) {
        guard !roots.isEmpty else { return }
        state.withLock { s in
            for (key, child) in s.children where roots.contains(where: { $0 === child.root }) {
                s.children[key] = nil
                abandonLocked(child)
            }
        }
    }

    /// Starts making a child for `plan`'s root, unless one is there or being made.
    func refill(_ plan: MountPlan) {
        let key = plan.rootKey
        let start = state.withLock { s -> Bool in
            guard s.config != nil, !s.stopped, s.children[key] == nil, !s.making.contains(key) else { return false }
            s.making.insert(key)
            s.makers += 1
            return true
        }
        guard start else { return }
        do {
            try spawnDetachedThread { [self] in make(plan) }
        } catch {
            state.withLock { s in
                s.making.remove(key)
                s.makers -= 1
            }
        }
    }

    // MARK: - Making

    /// The maker: builds the child's parts, registers it and starts it, then stays its parent thread until
    /// it has exited, cleaning up after it when no run took it.
    private func make(_ plan: MountPlan) {
        let key = plan.rootKey
        // Below the runs in flight: on two cores, made at the same priority it slowed the start of the
        // next client by as much as it saved (BENCHMARKS.md). The child takes the run's own nice value
        // when it is handed a run. A nice thread still gets its share: it cannot starve while it holds a
        // lock a run needs.
        _ = gb_set_thread_nice(min(19, SandboxLauncher.runNice + Self.makerNiceness))
        var counted = true
        defer { if counted { state.withLock { $0.makers -= 1 } } }
        guard let config = state.withLock({ $0.config }) else { state.withLock { _ = $0.making.remove(key) }; return }
        let child: SetupChild
        let initProgram: InitProgram
        do {
            initProgram = try InitProgram.shared.get()
            child = try prepare(plan, config: config)
        } catch {
            state.withLock { _ = $0.making.remove(key) }
            config.logger.error("cannot make a sandbox ahead of need; runs make their own", metadata: ["error": "\(error)"])
            return
        }
        // Its root may have been let go while it was prepared: letGo has passed such a child by. One let go
        // after this look waits for the next run of its kind, which lets it go, or for its expiry.
        let current = PreparedRoots.shared.keeps(child.root!, key: key)
        let registered = state.withLock { s -> Bool in
            s.making.remove(key)
            guard current, !s.stopped, s.children[key] == nil else { return false }
            s.children[key] = child
            s.timer.setIfSooner(child.expires)
            return true
        }
        guard registered else { return cleanUp(child, started: false) }
        startReaper()
        let pid = SandboxLauncher.startSetup(initProgram: initProgram, control: child.childEnd!, root: child.root!,
                                             network: child.network, cgroup: child.cgroup, pidfd: child.pidfdSlot, pid: child.pidSlot)
        // The child has executed init (a run took it) or exited (let go, or failed).
        if isRunning(child) {
            // A run's: it is no longer this pool's to wait for at shutdown. The parent-death signal of the
            // run's init is this thread's, so the thread stays until init has exited.
            counted = false
            state.withLock { $0.makers -= 1 }
            while true {
                var p = pollfd(fd: child.pidfdSlot.pointee, events: Int16(POLLIN), revents: 0)
                if poll(&p, 1, -1) > 0 { break }
                if errno != EINTR { usleep(10_000) }  // never leave early: this thread's exit would kill the run
            }
            close(child.pidfdSlot.pointee)
            return
        }
        cleanUp(child, started: pid > 0)
    }

    private func prepare(_ plan: MountPlan, config: Config) throws -> SetupChild {
        let made = Monotonic.now()
        let root = try PreparedRoots.shared.root(for: plan, scratch: config.scratch, deadline: made + 10)
        let cgroup = try config.cgroups.createSpare()
        do {
            let control = try SetupControl()
            return SetupChild(key: plan.rootKey, expires: made + PreparedRoots.shared.keepIdle, cgroup: cgroup, control: control,
                              network: config.networks?.take(), root: root)
        } catch {
            try? cgroup.remove()
            throw error
        }
    }

    /// After the child's clone3 returned: whether a run took it. Any other is out of the pool from now on
    /// (it exited: let go, or failed), for its maker to clean up.
    private func isRunning(_ child: SetupChild) -> Bool {
        state.withLock { s -> Bool in
            if s.children[child.key] === child { s.children[child.key] = nil }
            if child.state == .waiting { child.state = .abandoned }
            return child.state == .running
        }
    }

    private func cleanUp(_ child: SetupChild, started: Bool) {
        // A child that failed before it was ready said why: logged once for each different reason, so that
        // a host where they always fail says so without a line for every run.
        var report = gb_error_report()
        while gb_setup_report(child.control.raw, &report) == 1 {
            guard let failure = SandboxLauncher.failureText(report) else { continue }
            let (logger, new) = state.withLock { s in (s.config?.logger, s.failures.insert(failure).inserted) }
            if new { logger?.error("a sandbox made ahead of need failed; runs make their own", metadata: ["error": "\(failure)"]) }
        }
        if started, child.pidfdSlot.pointee >= 0 {
            SandboxLauncher.reap(pidfd: child.pidfdSlot.pointee)
            close(child.pidfdSlot.pointee)
        }
        child.childEnd?.close()
        child.control.close()
        child.network?.close()
        child.root = nil
        try? child.cgroup.killAll()
        _ = child.cgroup.waitUntilEmpty(milliseconds: 1000)
        do { try child.cgroup.remove() } catch {
            state.withLock { $0.config?.logger }?.error("cannot remove a spare sandbox's cgroup", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Letting go

    /// Lets a waiting child go: it is killed and its control socket shut, and its maker cleans up once its
    /// clone3 returns. Its descriptors are closed by its maker only.
    private func abandon(_ child: SetupChild) {
        state.withLock { _ in abandonLocked(child) }
    }

    private func abandonLocked(_ child: SetupChild) {
        guard child.state == .waiting else { return }
        child.state = .abandoned
        // Killed (its maker closes the pidfd only once it has seen the child's state change, under this
        // lock), and its control socket shut: a child still being cloned finds the other end closed when
        // it reports ready, and exits.
        if child.pidfdSlot.pointee >= 0 { _ = gb_pidfd_send_signal(child.pidfdSlot.pointee, SIGKILL) }
        _ = shutdown(child.control.raw, Int32(SHUT_RDWR))
    }

    private func startReaper() {
        let start = state.withLock { s in
            defer { s.reaperStarted = true }
            return !s.reaperStarted
        }
        if start {
            do { try spawnDetachedThread { [self] in reap() } } catch { state.withLock { $0.reaperStarted = false } }
        }
    }

    /// Lets children go once they have waited `keepIdle` for a run, on a timerfd set to the earliest such
    /// time; sleeps once none are left.
    private func reap() {
        let timer = state.withLock { $0.timer.descriptor }
        while true {
            OneShotTimer.wait(timer)
            state.withLock { s in
                let now = Monotonic.now()
                for (key, child) in s.children where child.expires <= now {
                    s.children[key] = nil
                    abandonLocked(child)
                }
                s.timer.set(s.children.values.map(\.expires).min())
            }
        }
    }
}
