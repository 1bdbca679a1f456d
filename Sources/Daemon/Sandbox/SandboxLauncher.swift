import CSandbox
import CSetupChild
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Everything the launcher needs for one run's own part, prepared before it is handed to a setup child.
public struct LaunchSpec: Sendable {
    public var argv: [String]
    public var environment: [String: String]
    /// The run's own mounts, made on the mount points of its prepared root.
    public var mounts: [MountPlan.Entry]
    public var workdir: String        // inside the sandbox
    public var uid: uid_t
    public var gid: gid_t
    /// Supplementary groups (host gids).
    public var groups: [gid_t]
    /// The uid and gid of the run's init: one of its own, shared by every run's init, no run's.
    public var initID: uid_t
    public var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)]
    public var seccomp: SeccompProfile
}

/// The run's first process, started, with the descriptors the supervisor watches.
public struct LaunchedProcess: Sendable {
    public let pid: pid_t
    public let pidfd: FileDescriptor
    public let stdout: FileDescriptor
    public let stderr: FileDescriptor
    public let status: FileDescriptor   // init writes the program's wait status here
}

/// Starts runs in setup children (CSetupChild/setup_child.c, cloned by CSandbox/launch.c). A setup child is made with clone3 (CLONE_VM, CLONE_VFORK)
/// into new namespaces and the run's cgroups, copies a prepared root's mount namespace, mounts /proc,
/// joins its network namespace, reports that it is ready on a control socket and waits there for a run:
/// the run's own mounts, descriptors, user and program. It then drops every privilege and executes
/// glovebox-init, which starts the program. A child can be made ahead of need (a warm sandbox, from
/// WarmSandboxes), or for the run at hand (`launch(_:root:network:cgroup:deadline:)`), whose message is
/// then queued before the clone: both take the same steps in the same order.
///
/// The daemon makes one at start (Sandboxes) with the glovebox-init it checked, and its watchdog.
public final class SandboxLauncher: Sendable {
    /// Every run's pid 1, checked at start.
    let initProgram: InitProgram
    /// Kills setup children still setting up at their run's deadline.
    let watchdog = LaunchWatchdog()

    public init(initProgram: InitProgram) {
        self.initProgram = initProgram
    }

    /// The capacity of a run's stdout and stderr pipes.
    static let outputPipeBytes: Int32 = 1 << 20
    static let hostname = "glovebox"
    /// Runs' nice value: the daemon's own, read at the first launch (a thread's nice is its own on Linux;
    /// the connection threads that launch runs keep the process's).
    static let runNice: Int32 = {
        errno = 0
        let value = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
        return errno == 0 ? value : 0
    }()

    /// The hand-over failed because the child is gone (killed from outside while it waited).
    struct HandOverFailed: Error {}

    /// Launches `spec` in a setup child made now, in `cgroup`, from `root`. `network`: a namespace from
    /// NetworkNamespacePool for this run alone (nil makes one at the clone). `deadline` (monotonic): the
    /// program must be exec'd by then, or the run is killed and this throws — setup can then never outlast
    /// the run's own time limit.
    func launch(_ spec: LaunchSpec, root: PreparedRoot, network: FileDescriptor?, cgroup: RunCgroup,
                deadline: Double) throws -> LaunchedProcess {
        if let problem = SuidDumpable.problem() { throw SandboxError.unavailable(problem) }
        guard Monotonic.now() < deadline else { throw SandboxError.startTimedOut }
        let control = try SetupControl()
        defer { control.daemonEnd.close() }
        let message = try RunMessage(spec)
        defer { message.release() }
        // Queued before the clone: the child takes it as soon as it is ready, without waiting.
        guard gb_hand_over(control.daemonEnd.raw, message.pointer) == 0 else { throw SystemError("hand a run over", errno: errno) }
        message.closeSent()

        let watch = try watchdog.arm(deadline: deadline)
        var childPid: pid_t = 0
        let pid = startSetup(control: control.childEnd, root: root, network: network,
                             cgroup: cgroup, pidfd: watch.pidfd, pid: &childPid)
        let cloneErrno = errno
        let killedByWatchdog = watchdog.disarm(watch)
        control.childEnd.close()
        if pid < 0 { throw SystemError("clone3 into new namespaces", errno: cloneErrno) }
        let process = LaunchedProcess(pid: pid, pidfd: FileDescriptor(watch.pidfd.pointee), stdout: message.stdout,
                                      stderr: message.stderr, status: message.status)
        FaultInjection.hit(.afterClone)
        if killedByWatchdog {
            _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL)  // it may have executed init meanwhile
            Self.reap(process)
            throw SandboxError.startTimedOut
        }
        if let failure = Self.setupFailure(control.daemonEnd) {
            Self.reap(process)
            throw failure
        }
        return try Self.awaitExec(process, message: message, control: control.daemonEnd, deadline: deadline)
    }

    /// Launches `spec` in `child`, a warm sandbox, ready (WarmSandboxes.take), whose cgroup is the run's.
    /// Throws HandOverFailed when the child is gone before it could take the run: the run may then start
    /// in a child of its own, in the same cgroup.
    func launch(_ spec: LaunchSpec, child: WarmSandbox, deadline: Double) throws -> LaunchedProcess {
        if let problem = SuidDumpable.problem() { throw SandboxError.unavailable(problem) }
        guard Monotonic.now() < deadline else { throw SandboxError.startTimedOut }
        let message = try RunMessage(spec)
        defer { message.release() }
        guard gb_hand_over(child.control.raw, message.pointer) == 0 else {
            let err = errno
            message.closeAll()
            // Gone (its end of the socket closed): the run may start in a child of its own. Any other
            // failure leaves it waiting: it is killed, and the run fails.
            _ = gb_pidfd_send_signal(child.pidfd.raw, SIGKILL)
            if err == EPIPE || err == ECONNRESET || err == ECONNREFUSED { throw HandOverFailed() }
            throw SystemError("hand a run over", errno: err)
        }
        message.closeSent()
        let process = LaunchedProcess(pid: child.pidSlot.pointee, pidfd: child.pidfd, stdout: message.stdout, stderr: message.stderr,
                                      status: message.status)
        FaultInjection.hit(.afterClone)
        return try Self.awaitExec(process, message: message, control: child.control, deadline: deadline)
    }

    /// clone3 of a setup child: returns once it has executed glovebox-init or died (for a warm sandbox,
    /// when it has received a run, or been let go); its pid, or -1 with errno.
    func startSetup(control: FileDescriptor, root: PreparedRoot, network: FileDescriptor?,
                    cgroup: RunCgroup, pidfd: UnsafeMutablePointer<Int32>, pid: UnsafeMutablePointer<pid_t>) -> pid_t {
        var arena = CStringArena()
        defer { arena.free() }
        let procs = cgroup.placementDescriptors
        return procs.withUnsafeBufferPointer { procsBuffer in
            var c = gb_setup()
            c.init_fd = initProgram.descriptor.raw
            c.control_fd = control.raw
            c.cgroup_fd = cgroup.cloneTarget?.raw ?? -1
            c.procs_fds = procsBuffer.baseAddress
            c.nprocs = Int32(procsBuffer.count)
            c.net_fd = network?.raw ?? -1
            c.root_ns_fd = root.namespace.raw
            c.root_dir_fd = root.directory.raw
            c.hostname = arena.add(Self.hostname)
            c.fault = FaultInjection.setupFault == .stall ? Int32(GB_FAULT_STALL.rawValue) : Int32(GB_FAULT_NONE.rawValue)
            return withExtendedLifetime(root) { gb_start_setup(&c, pidfd, pid) }
        }
    }

    /// The failure a setup child reported on its control socket, if it did: before it was ready, or while
    /// receiving its run.
    static func setupFailure(_ control: FileDescriptor) -> SandboxError? {
        var report = gb_error_report()
        while gb_setup_report(control.raw, &report) == 1 {
            if report.step != 0 { return .launchFailed(step: String(cString: gb_step_name(report.step)), errno: report.err) }
        }
        return nil
    }

    /// A failure report in words, or nil for none (step 0 is "ready").
    static func failureText(_ report: gb_error_report) -> String? {
        guard report.step != 0 else { return nil }
        return "\(String(cString: gb_step_name(report.step))): \(String(cString: strerror(report.err)))"
    }

    /// Waits until the program has been exec'd: EOF on the report pipe, which is close-on-exec in its
    /// process. A report on it, or on the control socket, is the step that failed.
    private static func awaitExec(_ process: LaunchedProcess, message: RunMessage, control: FileDescriptor,
                                  deadline: Double) throws -> LaunchedProcess {
        var ready = pollfd(fd: message.report.raw, events: Int16(POLLIN), revents: 0)
        while poll(&ready, 1, Int32(max(0, min(deadline - Monotonic.now(), 3600)) * 1000) + 1) < 0 && errno == EINTR {}
        if ready.revents == 0 {
            _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL)
            reap(process)
            throw SandboxError.startTimedOut
        }
        let bytes = (try? message.report.readToEnd(limit: 64)) ?? []
        if bytes.count >= MemoryLayout<gb_error_report>.size {
            let r = bytes.withUnsafeBytes { $0.loadUnaligned(as: gb_error_report.self) }
            reap(process)
            if r.step == Int32(GB_STEP_EXECVE.rawValue) { throw SandboxError.execFailed(program: message.program, errno: r.err) }
            throw SandboxError.launchFailed(step: String(cString: gb_step_name(r.step)), errno: r.err)
        }
        if let failure = setupFailure(control) {
            reap(process)
            throw failure
        }
        return process
    }

    /// Waits for the init process to be gone (after it exited or was killed).
    public static func reap(_ process: LaunchedProcess) {
        reap(pidfd: process.pidfd.raw)
    }

    static func reap(pidfd: Int32) {
        var info = siginfo_t()
        while waitid(idtype_t(rawValue: 3 /* P_PIDFD */), id_t(pidfd), &info, WEXITED | __WALL) < 0 && errno == EINTR {}
    }
}

/// A setup child's control socket (SOCK_SEQPACKET): the daemon's end, and the child's, which the daemon
/// closes once the child has its own copy, so that the child's death reads as the end of the socket.
struct SetupControl {
    let daemonEnd: FileDescriptor
    let childEnd: FileDescriptor

    init() throws {
        var fds: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) == 0 else {
            throw SystemError("socketpair for a setup child", errno: errno)
        }
        daemonEnd = FileDescriptor(fds[0])
        childEnd = FileDescriptor(fds[1])
    }
}

/// A run's part as the setup child reads it (gb_launch): the structure and what it points to, which live
/// until release() (the child reads them through the daemon's memory until it executes init), and the
/// descriptors sent with it. The daemon keeps the read ends of the run's pipes.
final class RunMessage {
    let pointer: UnsafeMutablePointer<gb_launch>
    let program: String
    let report: FileDescriptor
    let stdout: FileDescriptor
    let stderr: FileDescriptor
    let status: FileDescriptor
    /// Sent to the child: the daemon closes its copies once they are in the socket.
    private var sent: [FileDescriptor]
    private var arena: CStringArena
    private let mounts: UnsafeMutableBufferPointer<gb_mount>
    private let trees: UnsafeMutableBufferPointer<Int32>
    private let rlimits: UnsafeMutableBufferPointer<gb_rlimit>

    init(_ spec: LaunchSpec) throws {
        guard spec.mounts.count <= Int(GB_MAX_RUN_MOUNTS) else { throw SandboxError.invalid("a run has at most \(GB_MAX_RUN_MOUNTS) mounts of its own") }
        program = spec.argv.first ?? ""
        var arena = CStringArena()
        var opened: [FileDescriptor] = []
        do {
            let reportPipe = try FileDescriptor.pipe()
            opened += [reportPipe.read, reportPipe.write]
            let statusPipe = try FileDescriptor.pipe()
            opened += [statusPipe.read, statusPipe.write]
            let out = try FileDescriptor.pipe()
            opened += [out.read, out.write]
            let err = try FileDescriptor.pipe()
            opened += [err.read, err.write]
            // Room for a program that writes fast to keep writing while the daemon forwards: 1 GiB to stdout
            // went from 0.71-0.78x to 0.84-0.88x the speed of writing a file directly (BENCHMARKS.md, row 4).
            // The pages are allocated as they fill, charged to the writer: the run's memory cgroup. A refusal
            // (a host's pipe limits) leaves the default size, only slower.
            for pipe in [out, err] { _ = gb_set_pipe_size(pipe.write.raw, SandboxLauncher.outputPipeBytes) }
            let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)
            opened.append(devNull)
            var filter: FileDescriptor?
            if spec.seccomp.instructionCount > 0 {
                let fd = spec.seccomp.bpf.withUnsafeBytes { gb_filter_memfd($0.baseAddress, $0.count) }
                guard fd >= 0 else { throw SystemError("memfd for the seccomp filter", errno: errno) }
                filter = FileDescriptor(fd)
                opened.append(filter!)
            }
            let cMounts = arena.mounts(spec.mounts)
            // Binds are taken here, in the daemon's mount namespace (the child has left it), before any
            // watchdog is armed: they are the run's own workspace, /tmp and /dev/shm, on the daemon's tmpfs or an
            // overlay of a local filesystem (a workdir that cannot be idmapped, NFS or FUSE, is refused),
            // not host paths that could hang.
            var treeFDs: [Int32] = []
            var treeObjects: [FileDescriptor] = []
            for var m in cMounts {
                let tree = gb_detached_tree(&m)
                guard tree >= 0 else {
                    let step = m.kind == Int32(GB_MOUNT_DEVICE.rawValue) ? GB_STEP_DEVICE : GB_STEP_BIND
                    throw SandboxError.launchFailed(step: String(cString: gb_step_name(Int32(step.rawValue))), errno: errno)
                }
                let object = FileDescriptor(tree)
                opened.append(object)
                treeObjects.append(object)
                treeFDs.append(tree)
            }
            let count = max(1, cMounts.count)
            let mounts = UnsafeMutableBufferPointer<gb_mount>.allocate(capacity: count)
            let trees = UnsafeMutableBufferPointer<Int32>.allocate(capacity: count)
            let rlimits = UnsafeMutableBufferPointer<gb_rlimit>.allocate(capacity: max(1, spec.rlimits.count))
            for (i, m) in cMounts.enumerated() {
                mounts[i] = m
                trees[i] = treeFDs[i]
            }
            for (i, r) in spec.rlimits.enumerated() { rlimits[i] = gb_rlimit(resource: r.resource, soft: r.soft, hard: r.hard) }
            var c = gb_launch()
            c.err_fd = reportPipe.write.raw
            c.status_fd = statusPipe.write.raw
            c.stdin_fd = devNull.raw
            c.stdout_fd = out.write.raw
            c.stderr_fd = err.write.raw
            c.filter_fd = filter?.raw ?? -1
            c.mounts = UnsafePointer(mounts.baseAddress)
            c.trees = UnsafePointer(trees.baseAddress)
            c.nmounts = Int32(cMounts.count)
            c.cwd = arena.add(spec.workdir)
            c.init_uid = spec.initID
            c.init_gid = spec.initID
            c.rlimits = UnsafePointer(rlimits.baseAddress)
            c.nrlimits = Int32(spec.rlimits.count)
            let groupList = spec.groups.isEmpty ? "-" : spec.groups.map(String.init).joined(separator: ",")
            c.init_argv = UnsafePointer(arena.array([InitProgram.fileName, "--run", String(spec.uid), String(spec.gid), groupList, "--"] + spec.argv))
            c.envp = UnsafePointer(arena.array(spec.environment.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" }))
            c.nice = SandboxLauncher.runNice
            c.fault = FaultInjection.setupFault == .failInitExec ? Int32(GB_FAULT_EXEC_INIT.rawValue) : Int32(GB_FAULT_NONE.rawValue)
            let pointer = UnsafeMutablePointer<gb_launch>.allocate(capacity: 1)
            pointer.initialize(to: c)
            self.pointer = pointer
            self.mounts = mounts
            self.trees = trees
            self.rlimits = rlimits
            self.arena = arena
            report = reportPipe.read; stdout = out.read; stderr = err.read; status = statusPipe.read
            sent = [reportPipe.write, statusPipe.write, devNull, out.write, err.write] + (filter.map { [$0] } ?? []) + treeObjects
        } catch {
            for fd in opened { fd.close() }
            arena.free()
            throw error
        }
    }

    /// Closes the daemon's copies of what was sent: the child holds its own (or the socket does, until it
    /// is read or the socket goes).
    func closeSent() {
        for fd in sent { fd.close() }
        sent = []
    }

    /// Closes everything: nothing was sent.
    func closeAll() {
        closeSent()
        for fd in [report, stdout, stderr, status] { fd.close() }
    }

    /// Frees the structure and its strings: once the child has executed init, or is gone.
    func release() {
        arena.free()
        mounts.deallocate()
        trees.deallocate()
        rlimits.deallocate()
        pointer.deallocate()
    }
}

/// C strings that live until free(): the child reads them after the clone, the parent frees them after.
struct CStringArena {
    private var pointers: [UnsafeMutablePointer<CChar>] = []
    private var arrays: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []

    mutating func add(_ s: String) -> UnsafePointer<CChar> {
        let p = strdup(s)!
        pointers.append(p)
        return UnsafePointer(p)
    }

    /// A NULL-terminated array of C strings.
    mutating func array(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
        let a = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() {
            let p = strdup(s)!
            pointers.append(p)
            a[i] = p
        }
        a[strings.count] = nil
        arrays.append(a)
        return a
    }

    mutating func free() {
        for p in pointers { Glibc.free(p) }
        for a in arrays { a.deallocate() }
        pointers = []
        arrays = []
    }
}
