import CSandbox
import CSetupChild
import GloveboxSystem
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The warm-sandbox cache: the prepared roots (PreparedRoots), and the warm sandboxes made from them,
/// setup children made ahead of need (WarmSandbox), one for each kind of root (a policy, with a set of
/// leased GPUs) that runs have used lately. A run that finds one ready for its root takes it: its launch
/// is then only the run's own part (its mounts, user, descriptors and program), well short of a child
/// made for it (BENCHMARKS.md). The next one is made when a run of that root has ended and been cleaned
/// up, by a thread that stays the child's parent until the child's run is over: the parent-death signal
/// that ends a run with the daemon is tied to the thread that made the child.
///
/// A child serves only while its root does (PreparedRoots.serves): it is a copy of that root, and a
/// filesystem mounted on the host below a policy's read-only path must reach runs that start later. One
/// whose root no longer serves is let go when a run finds it; one no run takes is let go as long after it
/// was made as an unused root is kept (the daemon's `[sandbox] keep_idle`, 60 s by default), so that an
/// agent's next run, which comes after it has thought for a while, still finds it. Let go, its control
/// socket is closed, it is killed, its maker removes its cgroups. At rest nothing wakes after that.
///
/// The daemon makes one at start (Sandboxes), for its cgroup subtree and state directory.
public final class WarmSandboxes: Sendable {
    /// The roots runs and warm sandboxes are copies of.
    let roots: PreparedRoots
    private let cgroups: CgroupHierarchy
    private let networks: NetworkNamespacePool?
    private let launcher: SandboxLauncher
    /// An empty directory of the daemon's for building prepared roots.
    private let scratch: String
    private let logger: Logger

    private struct State {
        var stopped = false
        var children: [MountPlan.RootKey: WarmSandbox] = [:]
        /// Kinds with a maker between its start and its child's registration.
        var making: Set<MountPlan.RootKey> = []
        /// Makers whose child no run has taken, until they have cleaned up after it: stop() waits for them.
        var makers = 0
        var timer = OneShotTimer()
        /// Failures already logged.
        var failures: Set<String> = []
    }
    private let state = Mutex(State())
    /// Lets children go at their expiry; started with the first child.
    private let reaper = ThreadOnNeed()
    /// Lets roots go once retired; started with the first root.
    private let releaser = ThreadOnNeed()
    /// How much nicer than runs the makers are.
    static let makerNiceness: Int32 = 10

    /// `scratch`: a directory of the daemon's for building prepared roots, made here; where it cannot be,
    /// no sandbox is made ahead of need (said loudly) and every run makes its own.
    init(cgroups: CgroupHierarchy, networks: NetworkNamespacePool?, launcher: SandboxLauncher, scratch: String, keepIdle: Double,
         logger: Logger) {
        roots = PreparedRoots(keepIdle: keepIdle, watchdog: launcher.watchdog)
        self.cgroups = cgroups
        self.networks = networks
        self.launcher = launcher
        self.scratch = scratch
        self.logger = logger
        do {
            try FileIO.mkdir(scratch, mode: 0o700)
        } catch {
            logger.error("no warm sandboxes; each run makes its own", metadata: ["error": "\(error)"])
            state.withLock { $0.stopped = true }
        }
    }

    /// The root that serves `plan` (PreparedRoots.root); the thread that lets roots go starts with the first.
    func root(for plan: MountPlan, scratch: String, deadline: Double) throws -> PreparedRoot {
        let root = try roots.root(for: plan, scratch: scratch, deadline: deadline)
        try? releaser.start { [self] in releaseRoots() }
        return root
    }

    /// Lets every waiting child go and waits until their makers have cleaned up (the daemon, stopping,
    /// before it removes its cgroups). Children taken by runs belong to the runs.
    public func stop() {
        let children: [WarmSandbox] = state.withLock { s in
            s.stopped = true
            defer { s.children = [:] }
            return Array(s.children.values)
        }
        for child in children { abandon(child) }
        let deadline = Monotonic.now() + 10
        while state.withLock({ $0.makers }) > 0 && Monotonic.now() < deadline { usleep(1000) }
    }

    /// A ready child for `plan`'s root, taken for a run; nil when there is none (the run makes its own).
    /// One whose root no longer serves (the host changed under the policy's paths: PreparedRoots) is let go.
    func take(_ plan: MountPlan) -> WarmSandbox? {
        let key = plan.rootKey
        guard let root = state.withLock({ $0.children[key]?.root }) else { return nil }
        // Outside the lock: it may look at the host (mountinfo, a stat of each path).
        let serves = roots.serves(root, key: key)
        return state.withLock { s -> WarmSandbox? in
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
                    logger.error("a warm sandbox failed; runs make their own", metadata: ["error": "\(failure)"])
                }
                abandonLocked(child)
                return nil
            }
        }
    }

    /// Lets go the waiting children made from any of `roots`, which PreparedRoots no longer keeps (out of
    /// date, replaced, evicted or unused): none of them could serve a run.
    private func letGo(madeFrom roots: [PreparedRoot]) {
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
            guard !s.stopped, s.children[key] == nil, !s.making.contains(key) else { return false }
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
        let child: WarmSandbox
        do {
            child = try prepare(plan)
        } catch {
            state.withLock { _ = $0.making.remove(key) }
            logger.error("cannot make a warm sandbox; runs make their own", metadata: ["error": "\(error)"])
            return
        }
        // Its root may have been let go while it was prepared: letGo has passed such a child by. One let go
        // after this look waits for the next run of its kind, which lets it go, or for its expiry.
        let current = roots.keeps(child.root!, key: key)
        let registered = state.withLock { s -> Bool in
            s.making.remove(key)
            guard current, !s.stopped, s.children[key] == nil else { return false }
            s.children[key] = child
            s.timer.setIfSooner(child.expires)
            return true
        }
        guard registered else { return cleanUp(child, started: false) }
        try? reaper.start { [self] in reap() }
        let pid = launcher.startSetup(control: child.childEnd!, root: child.root!,
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

    private func prepare(_ plan: MountPlan) throws -> WarmSandbox {
        let made = Monotonic.now()
        let root = try self.root(for: plan, scratch: scratch, deadline: made + 10)
        let cgroup = try cgroups.createSpare()
        do {
            let control = try SetupControl()
            return WarmSandbox(key: plan.rootKey, expires: made + roots.keepIdle, cgroup: cgroup, control: control,
                              network: networks?.take(), root: root)
        } catch {
            try? cgroup.remove()
            throw error
        }
    }

    /// After the child's clone3 returned: whether a run took it. Any other is out of the pool from now on
    /// (it exited: let go, or failed), for its maker to clean up.
    private func isRunning(_ child: WarmSandbox) -> Bool {
        state.withLock { s -> Bool in
            if s.children[child.key] === child { s.children[child.key] = nil }
            if child.state == .waiting { child.state = .abandoned }
            return child.state == .running
        }
    }

    private func cleanUp(_ child: WarmSandbox, started: Bool) {
        // A child that failed before it was ready said why: logged once for each different reason, so that
        // a host where they always fail says so without a line for every run.
        var report = gb_error_report()
        while gb_setup_report(child.control.raw, &report) == 1 {
            guard let failure = SandboxLauncher.failureText(report) else { continue }
            let new = state.withLock { $0.failures.insert(failure).inserted }
            if new { logger.error("a warm sandbox failed; runs make their own", metadata: ["error": "\(failure)"]) }
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
            logger.error("cannot remove a warm sandbox's cgroup", metadata: ["error": "\(error)"])
        }
    }

    // MARK: - Letting go

    /// Lets a waiting child go: it is killed and its control socket shut, and its maker cleans up once its
    /// clone3 returns. Its descriptors are closed by its maker only.
    private func abandon(_ child: WarmSandbox) {
        state.withLock { _ in abandonLocked(child) }
    }

    private func abandonLocked(_ child: WarmSandbox) {
        guard child.state == .waiting else { return }
        child.state = .abandoned
        // Killed (its maker closes the pidfd only once it has seen the child's state change, under this
        // lock), and its control socket shut: a child still being cloned finds the other end closed when
        // it reports ready, and exits.
        if child.pidfdSlot.pointee >= 0 { _ = gb_pidfd_send_signal(child.pidfdSlot.pointee, SIGKILL) }
        _ = shutdown(child.control.raw, Int32(SHUT_RDWR))
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

    /// Lets go the roots PreparedRoots retires, and first the waiting children made from them, outside
    /// any lock: each root closes once no launch in progress and no warm sandbox holds it.
    private func releaseRoots() {
        while true {
            let gone = roots.awaitRetired()
            letGo(madeFrom: gone)
        }
    }
}
