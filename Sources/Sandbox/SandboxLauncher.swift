import CSandbox
import GloveboxSystem
#if canImport(Glibc)
import Glibc
#endif

/// Everything the launcher needs for one run, prepared before the clone.
public struct LaunchSpec: Sendable {
    public var argv: [String]
    public var environment: [String: String]
    /// The prepared root the run's mount namespace is copied from, and the run's own mounts on it.
    public var root: PreparedRoot
    public var mounts: [MountPlan.Entry]
    public var workdir: String        // inside the sandbox
    public var uid: uid_t
    public var gid: gid_t
    public var rlimits: [(resource: Int32, soft: UInt64, hard: UInt64)]
    public var seccomp: SeccompProfile
    public var hostname = "glovebox"
    /// A fresh network namespace to join (from NetworkNamespacePool), or nil for CLONE_NEWNET.
    public var network: FileDescriptor?
}

/// The run's first process, started, with the descriptors the supervisor watches.
public struct LaunchedProcess: Sendable {
    public let pid: pid_t
    public let pidfd: FileDescriptor
    public let stdout: FileDescriptor
    public let stderr: FileDescriptor
    public let status: FileDescriptor   // init writes the program's wait status here
}

/// Calls the C launcher: clone3 with CLONE_VM | CLONE_VFORK into new namespaces (and straight into the
/// run's cgroup2 directory where there is one; on cgroup v1 the child joins its cgroups itself before
/// anything else), which copies the prepared root's mount namespace and makes the run's own mounts in it,
/// drops privileges and executes glovebox-init, which starts the program. Returns once the program has been executed, or throws the step and errno at which the setup,
/// init or the program's execve failed.
public enum SandboxLauncher {
    /// The capacity of a run's stdout and stderr pipes.
    static let outputPipeBytes: Int32 = 1 << 20

    /// `deadline` (monotonic): the program must be exec'd by then, or the run is killed and this throws —
    /// setup can then never outlast the run's own time limit.
    public static func launch(_ spec: LaunchSpec, cgroup: RunCgroup, deadline: Double) throws -> LaunchedProcess {
        let initProgram = try InitProgram.shared.get()
        if let problem = SuidDumpable.problem() { throw SandboxError.unavailable(problem) }
        guard Monotonic.now() < deadline else { throw SandboxError.startTimedOut }
        let report = try FileDescriptor.pipe()
        let status = try FileDescriptor.pipe()
        let out = try FileDescriptor.pipe()
        let err = try FileDescriptor.pipe()
        // Room for a program that writes fast to keep writing while the daemon forwards: 1 GiB to stdout went
        // from 0.71-0.78x to 0.84-0.88x the speed of writing a file directly (BENCHMARKS.md, row 4). The
        // pages are allocated as they fill, charged to the writer: the run's memory cgroup. A refusal
        // (a host's pipe limits) leaves the default size, only slower.
        for pipe in [out, err] { _ = gb_set_pipe_size(pipe.write.raw, Self.outputPipeBytes) }
        let devNull = try FileDescriptor.open("/dev/null", O_RDONLY)

        var arena = CStringArena()
        defer { arena.free() }
        let mounts = arena.mounts(spec.mounts)
        let rlimits = spec.rlimits.map { gb_rlimit(resource: $0.resource, soft: $0.soft, hard: $0.hard) }
        let initArgv = arena.array([InitProgram.fileName, "--"] + spec.argv)
        let envp = arena.array(spec.environment.sorted(by: { $0.key < $1.key }).map { "\($0.key)=\($0.value)" })
        let procs = cgroup.placementDescriptors

        let watch = try LaunchWatchdog.shared.arm(deadline: deadline)
        let pid: pid_t = mounts.withUnsafeBufferPointer { mountsBuffer in
            rlimits.withUnsafeBufferPointer { rlimitsBuffer in
                procs.withUnsafeBufferPointer { procsBuffer in
                    spec.seccomp.bpf.withUnsafeBytes { filter in
                        var c = gb_launch()
                        c.init_fd = initProgram.descriptor.raw
                        c.err_fd = report.write.raw
                        c.status_fd = status.write.raw
                        c.stdin_fd = devNull.raw
                        c.stdout_fd = out.write.raw
                        c.stderr_fd = err.write.raw
                        c.cgroup_fd = cgroup.cloneTarget?.raw ?? -1
                        c.procs_fds = procsBuffer.baseAddress
                        c.nprocs = Int32(procsBuffer.count)
                        c.net_fd = spec.network?.raw ?? -1
                        c.root_ns_fd = spec.root.namespace.raw
                        c.root_dir_fd = spec.root.directory.raw
                        c.mounts = mountsBuffer.baseAddress
                        c.nmounts = Int32(mountsBuffer.count)
                        c.hostname = arena.add(spec.hostname)
                        c.cwd = arena.add(spec.workdir)
                        c.uid = spec.uid
                        c.gid = spec.gid
                        c.rlimits = rlimitsBuffer.baseAddress
                        c.nrlimits = Int32(rlimitsBuffer.count)
                        c.filter = filter.isEmpty ? nil : filter.baseAddress
                        c.filter_len = UInt16(spec.seccomp.instructionCount)
                        c.init_argv = UnsafePointer(initArgv)
                        c.envp = UnsafePointer(envp)
                        c.fault = switch FaultInjection.setupFault {
                        case nil: Int32(GB_FAULT_NONE.rawValue)
                        case .stall: Int32(GB_FAULT_STALL.rawValue)
                        case .failInitExec: Int32(GB_FAULT_EXEC_INIT.rawValue)
                        }
                        return withExtendedLifetime(spec.root) { gb_launch(&c, watch.pidfd) }
                    }
                }
            }
        }
        let cloneErrno = errno
        let killedByWatchdog = LaunchWatchdog.shared.disarm(watch)
        if pid < 0 { throw SystemError("clone3 into new namespaces", errno: cloneErrno) }
        let process = LaunchedProcess(pid: pid, pidfd: FileDescriptor(watch.pidfd.pointee), stdout: out.read, stderr: err.read, status: status.read)
        FaultInjection.hit(.afterClone)
        // The parent keeps only its ends; init holds the report pipe's write end until the program's execve.
        report.write.close(); status.write.close(); out.write.close(); err.write.close(); devNull.close()
        if killedByWatchdog {
            _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL)  // it may have executed init meanwhile
            reap(process)
            throw SandboxError.startTimedOut
        }
        // EOF on the report pipe: the program was exec'd (the pipe is close-on-exec in its process).
        var ready = pollfd(fd: report.read.raw, events: Int16(POLLIN), revents: 0)
        while poll(&ready, 1, Int32(max(0, min(deadline - Monotonic.now(), 3600)) * 1000) + 1) < 0 && errno == EINTR {}
        if ready.revents == 0 {
            _ = gb_pidfd_send_signal(process.pidfd.raw, SIGKILL)
            reap(process)
            throw SandboxError.startTimedOut
        }
        let bytes = (try? report.read.readToEnd(limit: 64)) ?? []
        if bytes.count >= MemoryLayout<gb_error_report>.size {
            let r = bytes.withUnsafeBytes { $0.loadUnaligned(as: gb_error_report.self) }
            reap(process)
            if r.step == Int32(GB_STEP_EXECVE.rawValue) { throw SandboxError.execFailed(program: spec.argv[0], errno: r.err) }
            throw SandboxError.launchFailed(step: String(cString: gb_step_name(r.step)), errno: r.err)
        }
        return process
    }

    /// Waits for the init process to be gone (after it exited or was killed).
    public static func reap(_ process: LaunchedProcess) {
        var info = siginfo_t()
        while waitid(idtype_t(rawValue: 3 /* P_PIDFD */), id_t(process.pidfd.raw), &info, WEXITED | __WALL) < 0 && errno == EINTR {}
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
