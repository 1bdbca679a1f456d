import CSandbox
import CSetupChild
import GloveboxSystem
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A root built once for many runs (`gb_prepare_root`): a read-only tmpfs holding a policy's read-only
/// binds, /dev and the mount points of each run's own mounts, pivoted into, in a mount namespace of its
/// own whose mounts are all private. Each run's setup child copies the namespace and mounts only its own
/// things. The descriptor keeps the namespace alive; it is closed when the last run that took this root
/// has been launched and the cache has let it go.
public final class PreparedRoot: Sendable {
    let namespace: FileDescriptor
    let directory: FileDescriptor  // its root (O_PATH)
    /// The host under the root's paths, as it was when the root started being made.
    let view: HostView

    init(namespace: FileDescriptor, directory: FileDescriptor, view: HostView) {
        self.namespace = namespace
        self.directory = directory
        self.view = view
    }

    deinit {
        namespace.close()
        directory.close()
    }
}

/// The prepared roots, one for each distinct set of shared mounts (a policy, with a set of leased GPUs).
/// A root is a snapshot of the host's mounts under the policy's read-only paths, and of the files those
/// paths and the device nodes lead to: a root serves runs only while the host looks the same there
/// (HostView). A run that takes a root found unchanged more than `recheckAfter` ago looks at the host
/// again first (mountinfo and a stat of each path); a root found out of date is let go and
/// the run builds a new one. So a filesystem mounted on the host below a read-only path, or a file the host
/// replaced by renaming another over it, reaches every run that starts more than two seconds later, however
/// long the root has been kept. Contents changed in place are seen at once, through the binds. Building
/// one costs what building every run's root used to (BENCHMARKS.md): the run that finds none builds it.
///
/// A root no run has taken for `keepIdle` seconds (the daemon's `[sandbox] keep_idle`) is let go by a
/// thread, on a timerfd set to the earliest such time, so that no run waits for a namespace's mounts to be
/// torn down, and no root of a policy no longer used keeps the host's filesystems below its paths busy for
/// longer than that. The thread sleeps once none are left. The roots belong to the warm-sandbox cache
/// (WarmSandboxes), whose thread lets them go (awaitRetired), after the warm sandboxes made from them.
public final class PreparedRoots: Sendable {
    /// How long after the host was last found unchanged under a root's paths the root serves runs without
    /// looking again.
    public static let recheckAfter = 2.0
    /// Roots kept at once (distinct policies and GPU sets); the one unused longest goes first.
    static let capacity = 8

    private struct Kept {
        let root: PreparedRoot
        /// When the host was last found as the root has it (or the root started being made).
        var checked: Double
        /// When a run or a warm sandbox last took it.
        var used: Double
        /// When it stops serving whatever the host looks like: for a root whose build saw the daemon's
        /// mounts change (MountWatch), `recheckAfter` after it started being made.
        var until: Double?
    }

    private struct State {
        var roots: [MountPlan.RootKey: Kept] = [:]
        /// Replaced, out of date or evicted, to be let go by the thread.
        var retired: [PreparedRoot] = []
        var timer = OneShotTimer()
    }
    private let state = Mutex(State())
    /// How long a root no run takes is kept (`[sandbox] keep_idle`); warm sandboxes, copies of roots, are
    /// kept as long.
    let keepIdle: Double
    /// Kills a build still running at its deadline (the launcher's).
    private let watchdog: LaunchWatchdog

    init(keepIdle: Double, watchdog: LaunchWatchdog) {
        self.keepIdle = keepIdle
        self.watchdog = watchdog
    }

    /// Whether `root` is the one kept for `key` (a warm sandbox made from it may wait for runs).
    func keeps(_ root: PreparedRoot, key: MountPlan.RootKey) -> Bool {
        state.withLock { $0.roots[key]?.root === root }
    }

    /// The root that serves `plan`, or a new one built on `scratch` (an empty directory of the daemon's; its
    /// view of it stays empty). No lock is held while building or looking at the host, so a build or a look
    /// that hangs (a stuck network filesystem below a path) holds up only its own run (a build until
    /// `deadline`).
    func root(for plan: MountPlan, scratch: String, deadline: Double) throws -> PreparedRoot {
        let key = plan.rootKey
        if let kept = state.withLock({ $0.roots[key]?.root }), serves(kept, key: key) { return kept }
        let made = Monotonic.now()
        let watch = MountWatch()
        // Taken before the build: a change during it shows at the next look, and the root is built again.
        let view = HostView(of: key.shared)
        let transient = FaultInjection.setupFault == .mountDuringBuild ? Self.transientMount(key) : nil
        let built = Result { try build(plan, scratch: scratch, deadline: deadline, view: view) }
        if let transient { _ = umount2(transient, Int32(MNT_DETACH)) }
        let root = try built.get()
        let until = watch.changed() ? made + Self.recheckAfter : nil
        state.withLock { s in
            if let replaced = s.roots.updateValue(Kept(root: root, checked: made, used: made, until: until), forKey: key) {
                s.retired.append(replaced.root)
            }
            if s.roots.count > Self.capacity, let oldest = s.roots.filter({ $0.key != key }).min(by: { $0.value.used < $1.value.used }) {
                s.retired.append(s.roots.removeValue(forKey: oldest.key)!.root)
            }
            // At once for what was retired, else when this root has gone unused for keepIdle, unless sooner.
            s.timer.setIfSooner(s.retired.isEmpty ? made + keepIdle : made)
        }
        return root
    }

    /// Whether `root` still serves runs of `key`, taken now (by a run, or by a warm sandbox made
    /// for one): it is the one kept, and the host under its paths is as the root has it, looked at again
    /// when last found so more than `recheckAfter` ago. A root found out of date is let go.
    func serves(_ root: PreparedRoot, key: MountPlan.RootKey) -> Bool {
        let now = Monotonic.now()
        let checked = state.withLock { s -> Double? in
            guard let kept = s.roots[key], kept.root === root else { return nil }
            if let until = kept.until, now >= until {
                s.retired.append(s.roots.removeValue(forKey: key)!.root)
                s.timer.setIfSooner(now)
                return nil
            }
            s.roots[key]!.used = now
            return kept.checked
        }
        guard let checked else { return false }
        if now - checked < Self.recheckAfter { return true }
        // Looked at outside the lock; the time is the look's start, so a change during it shows next time.
        let unchanged = HostView(of: key.shared).matches(root.view)
        state.withLock { s in
            guard s.roots[key]?.root === root else { return }
            if unchanged {
                s.roots[key]!.checked = now
            } else {
                s.retired.append(s.roots.removeValue(forKey: key)!.root)
                s.timer.setIfSooner(now)
            }
        }
        return unchanged
    }

    private static let transientDone = Atomic<Bool>(false)

    /// GLOVEBOX_FAULT=mount-during-build, once: a tmpfs on `transient` in the first read-only directory.
    private static func transientMount(_ key: MountPlan.RootKey) -> String? {
        guard !transientDone.exchange(true, ordering: .relaxed),
              let entry = key.shared.first(where: { $0.kind == Int32(GB_MOUNT_BIND_RO.rawValue) && $0.isDirectory && FileIO.exists($0.source + "/transient") })
        else { return nil }
        let path = entry.source + "/transient"
        return mount("tmpfs", path, "tmpfs", 0, "size=64k") == 0 ? path : nil
    }

    /// Sleeps until roots are to be let go (replaced, out of date, evicted, or unused for `keepIdle`) and
    /// returns them, no longer kept: for the owner's thread (WarmSandboxes) to let go, outside the lock.
    func awaitRetired() -> [PreparedRoot] {
        let timer = state.withLock { $0.timer.descriptor }
        while true {
            OneShotTimer.wait(timer)
            let gone: [PreparedRoot] = state.withLock { s in
                let now = Monotonic.now()
                var gone = s.retired
                s.retired = []
                for key in s.roots.filter({ now - $0.value.used >= keepIdle }).map(\.key) {
                    gone.append(s.roots.removeValue(forKey: key)!.root)
                }
                s.timer.set(s.roots.values.map { $0.used + keepIdle }.min())
                return gone
            }
            if !gone.isEmpty { return gone }
        }
    }

    private func build(_ plan: MountPlan, scratch: String, deadline: Double, view: HostView) throws -> PreparedRoot {
        guard Monotonic.now() < deadline else { throw SandboxError.startTimedOut }
        var arena = CStringArena()
        defer { arena.free() }
        let shared = arena.mounts(plan.shared)
        let run = arena.mounts(plan.run)
        let trees = try Self.bindTrees(plan.shared)
        let treeNumbers = trees.map { $0?.raw ?? -1 }
        let watch = try watchdog.arm(deadline: deadline)
        var failure = gb_error_report()
        var prepared = gb_prepared_root()
        // The trees stay open until the builder has its copies: an optimized build would otherwise close
        // them after their last use in Swift, the line above.
        let rc = withExtendedLifetime(trees) { shared.withUnsafeBufferPointer { sharedBuffer in
            run.withUnsafeBufferPointer { runBuffer in
                treeNumbers.withUnsafeBufferPointer { treeBuffer in
                    var c = gb_root()
                    c.root = arena.add(scratch)
                    c.mounts = sharedBuffer.baseAddress
                    c.trees = treeBuffer.baseAddress
                    c.nmounts = Int32(sharedBuffer.count)
                    c.run_mounts = runBuffer.baseAddress
                    c.nrun_mounts = Int32(runBuffer.count)
                    return gb_prepare_root(&c, watch.pidfd, &prepared, &failure)
                }
            }
        } }
        let err = errno
        let killed = watchdog.disarm(watch)
        if watch.pidfd.pointee >= 0 { close(watch.pidfd.pointee) }
        if killed {
            // It may have finished just before the kill (a zombie can be signalled): its descriptors are ours.
            if rc == 0 { close(prepared.ns_fd); close(prepared.root_fd) }
            throw SandboxError.startTimedOut
        }
        guard rc == 0 else {
            if failure.step == 0 { throw SystemError("build a prepared root", errno: err) }
            throw SandboxError.launchFailed(step: "prepared root: " + String(cString: gb_step_name(failure.step)), errno: failure.err)
        }
        return PreparedRoot(namespace: FileDescriptor(prepared.ns_fd), directory: FileDescriptor(prepared.root_fd), view: view)
    }

    /// For each shared mount that binds a host path (read-only paths, device nodes), its tree, taken of the
    /// source opened and checked by BindSource; nil for the others. The builder attaches them.
    private static func bindTrees(_ entries: [MountPlan.Entry]) throws -> [FileDescriptor?] {
        try entries.map { entry in
            guard entry.kind == Int32(GB_MOUNT_BIND_RO.rawValue) || entry.kind == Int32(GB_MOUNT_DEVICE.rawValue) else { return nil }
            let source = try BindSource.open(entry.source, kind: entry.kind)
            return FileDescriptor(try syscallValue("take the bind's tree of", entry.source) { gb_detached_tree_of(source.raw, entry.kind) })
        }
    }
}

extension CStringArena {
    /// The launcher's form of mount entries; their strings live until free().
    mutating func mounts(_ entries: [MountPlan.Entry]) -> [gb_mount] {
        entries.map { e in
            gb_mount(source: add(e.source), target: add(e.target), data: add(e.data), kind: e.kind, is_dir: e.isDirectory ? 1 : 0)
        }
    }
}
