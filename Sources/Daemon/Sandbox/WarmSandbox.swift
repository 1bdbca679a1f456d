import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// A warm sandbox: a setup child made ahead of need (WarmSandboxes), in a fresh pid, ipc, uts, cgroup and network
/// namespace, in cgroups of its own without the run's limits yet, in a copy of a prepared root with /proc
/// mounted, waiting as root on its control socket for a run. Nothing else can reach it: the control
/// socket's other end is the daemon's alone, and its pid namespace has no other process.
final class WarmSandbox: @unchecked Sendable {
    // Mutated under WarmSandboxes' lock, or by the one thread that owns the child in its state.
    let key: MountPlan.RootKey
    /// When it is let go if no run has taken it: as long after it started being made as a root no run takes
    /// is kept (`[sandbox] keep_idle`). Whether it serves a run is also its root's (PreparedRoots.serves):
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
    func takeForRun() throws {
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
