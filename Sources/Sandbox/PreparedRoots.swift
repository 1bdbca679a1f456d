import CSandbox
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
    /// Monotonic time at which it was made.
    let made: Double

    init(namespace: FileDescriptor, directory: FileDescriptor, made: Double) {
        self.namespace = namespace
        self.directory = directory
        self.made = made
    }

    deinit {
        namespace.close()
        directory.close()
    }
}

/// The prepared roots, one for each distinct set of shared mounts (a policy, with a set of leased GPUs),
/// each serving new runs for `lifetime` seconds after it started being made. A root is a snapshot of the
/// host's mounts under the policy's read-only paths: a filesystem mounted on the host below a read-only
/// path reaches runs that start after the root's lifetime, at most two seconds later. Files are bound by
/// what they are when the root is made: a directory's contents are seen as they change, but a single file
/// the host replaces by renaming another over it is seen once the root is renewed. Building one costs what
/// building every run's root used to (BENCHMARKS.md): the run that finds none, or an old one, builds it.
///
/// A thread lets roots go once they are too old to serve, on a timerfd set to the earliest such time, so
/// that no run waits for a namespace's mounts to be torn down, and no root of a policy no longer used keeps
/// the host's filesystems below its paths busy for more than its lifetime. It sleeps once none are left.
public final class PreparedRoots: Sendable {
    public static let shared = PreparedRoots()

    /// How long a root serves new runs after it started being made.
    public static let lifetime = 2.0
    /// Roots kept at once (distinct policies and GPU sets); the oldest goes first.
    static let capacity = 8

    private struct State {
        var roots: [MountPlan.RootKey: PreparedRoot] = [:]
        /// Replaced or evicted, to be let go by the thread.
        var retired: [PreparedRoot] = []
        var started = false
        var timer = OneShotTimer()
    }
    private let state = Mutex(State())

    private init() {}

    /// A root for `plan` that serves at least `servingFor` more seconds (made within the last `lifetime -
    /// servingFor`), or a new one built on `scratch` (an empty directory of the daemon's; its view of it
    /// stays empty). No lock is held while building, so a build that hangs (a bind of a stuck network
    /// filesystem) holds up only its own run, until `deadline`.
    func root(for plan: MountPlan, scratch: String, deadline: Double, servingFor: Double = 0) throws -> PreparedRoot {
        let key = plan.rootKey
        let made = Monotonic.now()
        if let root = state.withLock({ $0.roots[key] }), made - root.made < Self.lifetime - servingFor { return root }
        let root = try Self.build(plan, scratch: scratch, deadline: deadline, made: made)
        let start = state.withLock { s in
            if let replaced = s.roots.updateValue(root, forKey: key) { s.retired.append(replaced) }
            if s.roots.count > Self.capacity, let oldest = s.roots.filter({ $0.key != key }).min(by: { $0.value.made < $1.value.made }) {
                s.retired.append(s.roots.removeValue(forKey: oldest.key)!)
            }
            // At once for what was retired, else when this root has served its time, unless sooner already.
            s.timer.setIfSooner(s.retired.isEmpty ? made + Self.lifetime : made)
            defer { s.started = true }
            return !s.started
        }
        if start {
            do { try spawnDetachedThread { [self] in releaseOld() } } catch { state.withLock { $0.started = false } }
        }
        return root
    }

    private func releaseOld() {
        let timer = state.withLock { $0.timer.descriptor }
        while true {
            OneShotTimer.wait(timer)
            let gone: [PreparedRoot] = state.withLock { s in
                let now = Monotonic.now()
                var gone = s.retired
                s.retired = []
                for key in s.roots.filter({ now - $0.value.made >= Self.lifetime }).map(\.key) { gone.append(s.roots.removeValue(forKey: key)!) }
                s.timer.set(s.roots.values.map { $0.made + Self.lifetime }.min())
                return gone
            }
            _ = gone  // released here, outside the lock: each closes once no launch in progress holds it
        }
    }

    private static func build(_ plan: MountPlan, scratch: String, deadline: Double, made: Double) throws -> PreparedRoot {
        guard Monotonic.now() < deadline else { throw SandboxError.startTimedOut }
        var arena = CStringArena()
        defer { arena.free() }
        let shared = arena.mounts(plan.shared)
        let run = arena.mounts(plan.run)
        let watch = try LaunchWatchdog.shared.arm(deadline: deadline)
        var failure = gb_error_report()
        var prepared = gb_prepared_root()
        let rc = shared.withUnsafeBufferPointer { sharedBuffer in
            run.withUnsafeBufferPointer { runBuffer in
                var c = gb_root()
                c.root = arena.add(scratch)
                c.mounts = sharedBuffer.baseAddress
                c.nmounts = Int32(sharedBuffer.count)
                c.run_mounts = runBuffer.baseAddress
                c.nrun_mounts = Int32(runBuffer.count)
                return gb_prepare_root(&c, watch.pidfd, &prepared, &failure)
            }
        }
        let err = errno
        let killed = LaunchWatchdog.shared.disarm(watch)
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
        return PreparedRoot(namespace: FileDescriptor(prepared.ns_fd), directory: FileDescriptor(prepared.root_fd), made: made)
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
