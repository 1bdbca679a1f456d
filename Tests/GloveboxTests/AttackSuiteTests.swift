import GloveboxSystem
import Policy
import Records
import Synchronization
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The containment suite: one program of attacks/ per attack, run through the daemon under the DEFAULT
/// template (tightened only where the attack needs a small limit to be quick), each asserting the exact
/// RESULT line the program prints, the record's status (and signal and limits hit), and that nothing
/// changed on the host. attacks/README.md lists them; scripts/attack-suite.sh runs this class and prints
/// the table of results (each test appends its row to $GLOVEBOX_ATTACK_REPORT when that is set).
final class AttackSuiteTests: DaemonTestCase {
    /// The run's view of a fresh copy of attacks/ (the workdir of every attack), removed after each test.
    var workdir = ""
    /// What this test's attack expected and saw, and every mismatch found: the row of the report.
    var row: (name: String, kind: String, expected: String, observed: String)?
    var mismatches: [String] = []

    static let attacksDirectory = DaemonFixture.repositoryRoot + "/attacks"

    override func setUpWithError() throws {
        try super.setUpWithError()
        workdir = daemon.scratch + "/attacks-\(UInt32.random(in: 0...UInt32.max))"
        let copy = try DaemonFixture.run(["/bin/cp", "-R", Self.attacksDirectory, workdir])
        XCTAssertEqual(copy.status, 0, copy.stderr)
        _ = try DaemonFixture.run(["/bin/chmod", "-R", "a+rX", workdir])
    }

    override func tearDown() {
        if let row {
            let pass = mismatches.isEmpty ? "yes" : "NO"
            if let report = ProcessInfo.processInfo.environment["GLOVEBOX_ATTACK_REPORT"], !report.isEmpty {
                let line = [row.name, row.kind, row.expected, row.observed, pass].joined(separator: "\t") + "\n"
                let fd = open(report, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
                if fd >= 0 {
                    _ = Array(line.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                    close(fd)
                }
            }
        }
        _ = try? DaemonFixture.run(["/bin/rm", "-rf", workdir])
        super.tearDown()
    }

    /// An assertion that also marks this attack's row as failed.
    func check(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #filePath, line: UInt = #line) {
        if !condition {
            mismatches.append(message())
            XCTFail(message(), file: file, line: line)
        }
    }

    /// Runs attacks/`program` (Python, or an executable the test built into the workdir) with `arguments`
    /// under the default template and asserts its RESULT line, status, signal and limits hit.
    @discardableResult
    func attack(_ program: String, _ kind: String, expect token: String, status: RunStatus = .ok, signal: Int32? = nil,
                limitsHit: [LimitHit] = [], arguments: [String] = [], limits: LimitRequest = LimitRequest(timeoutSeconds: 20),
                outputs: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> DaemonFixture.Outcome {
        let argv = (program.hasSuffix(".py") ? [python, program] : ["./" + program]) + arguments
        let outcome = daemon.run(argv, limits: limits, workdir: workdir, outputs: outputs)
        let results = outcome.stdout.split(separator: "\n").filter { $0.hasPrefix("RESULT ") }.map { String($0.dropFirst(7)) }
        let observed = results.last ?? "(none)"
        var expected = "`\(token)`, \(status.rawValue)"
        var seen = "`\(observed)`, \(outcome.record?.status.rawValue ?? "no record")"
        if let signal { expected += " (signal \(signal))" }
        if let got = outcome.record?.signal { seen += " (signal \(got))" }
        if !limitsHit.isEmpty {
            expected += ", hit " + limitsHit.map(\.rawValue).joined(separator: "+")
            seen += ", hit " + (outcome.record?.limitsHit.map(\.rawValue).joined(separator: "+") ?? "")
        }
        row = (program.replacingOccurrences(of: ".py", with: "").replacingOccurrences(of: ".c", with: ""), kind, expected, seen)
        let context = "stderr: \(outcome.stderr.suffix(1500)) error: \(outcome.error ?? "none")"
        check(results.count == 1, "\(program): expected one RESULT line, got \(results.count); \(context)", file: file, line: line)
        check(observed == token, "\(program): RESULT \(observed), expected \(token); \(context)", file: file, line: line)
        check(outcome.record?.status == status, "\(program): status \(outcome.record?.status.rawValue ?? "none"), expected \(status.rawValue); \(context)",
              file: file, line: line)
        check(outcome.record?.signal == signal, "\(program): signal \(String(describing: outcome.record?.signal)), expected \(String(describing: signal))",
              file: file, line: line)
        for limit in limitsHit {
            check(outcome.record?.limitsHit.contains(limit) == true, "\(program): \(limit.rawValue) not in limits_hit \(outcome.record?.limitsHit ?? [])",
                  file: file, line: line)
        }
        return outcome
    }

    func marker() -> String { "glovebox-attack-\(UInt32.random(in: 100_000...UInt32.max))" }

    func daemonServes(file: StaticString = #filePath, line: UInt = #line) {
        check(kill(daemon.pid, 0) == 0, "gloveboxd must survive", file: file, line: line)
        check(daemon.run(["/bin/true"]).record?.status == .ok, "gloveboxd must keep serving", file: file, line: line)
    }

    /// Whether `fd` has anything to read (a connection or a datagram) right now.
    func readable(_ fd: Int32) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&pfd, 1, 0) != 0
    }

    /// A socket bound to an ephemeral port of the host's 127.0.0.1 (listening when it is a stream).
    func loopbackSocket(_ type: __socket_type) -> (fd: Int32, port: UInt16) {
        let fd = socket(AF_INET, Int32(type.rawValue), 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")),
                                  sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length); _ = getsockname(fd, $0, &length) }
        }
        if type == SOCK_STREAM { listen(fd, 8) }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    /// Names and contents of every file under `path`, to compare before and after.
    func snapshot(_ path: String) -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            files[name] = FileManager.default.contents(atPath: path + "/" + name) ?? Data()
        }
        return files
    }

    // MARK: - Network

    func testTCPToAHostLoopbackServiceIsRefused() {
        let (listener, port) = loopbackSocket(SOCK_STREAM)
        defer { close(listener) }
        attack("net-tcp-host-loopback.py", "network", expect: "ECONNREFUSED", arguments: ["\(port)"])
        check(!readable(listener), "the host listener must see no connection")
    }

    func testUDPToAHostLoopbackSocketNeverArrives() {
        let (receiver, port) = loopbackSocket(SOCK_DGRAM)
        defer { close(receiver) }
        attack("net-udp-host-loopback.py", "network", expect: "send:ok,recv:ECONNREFUSED", arguments: ["\(port)"])
        check(!readable(receiver), "no datagram may reach the host socket")
    }

    func testNoRouteOut() {
        attack("net-outbound.py", "network", expect: "tcp:ENETUNREACH,udp:ENETUNREACH")
    }

    func testNameResolutionFails() {
        attack("net-dns.py", "network", expect: "example.com:EAI_AGAIN,localhost:resolved")
    }

    func testTheSupervisorsSocketAndRunAreAbsent() {
        attack("net-host-unix-sockets.py", "network", expect: "daemon:ENOENT,default:ENOENT,dbus:ENOENT,run:ENOENT", arguments: [daemon.socket])
    }

    func testAHostAbstractUnixSocketIsUnreachable() throws {
        let name = marker()
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(name.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { path in
            for (i, byte) in bytes.enumerated() { path[i + 1] = byte }  // path[0] = 0: abstract
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + 1 + bytes.count)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) } }
        XCTAssertEqual(bound, 0, String(cString: strerror(errno)))
        listen(listener, 8)
        attack("net-abstract-unix.py", "network", expect: "ECONNREFUSED", arguments: [name])
        check(!readable(listener), "the host's abstract socket must see no connection")
    }

    func testNetlinkRouteSeesOnlyTheRunsLoopback() {
        attack("net-netlink-route.py", "network", expect: "links:lo")
    }

    func testNetlinkAuditIsRefused() {
        attack("net-netlink-audit.py", "network", expect: "socket:EPERM")
    }

    /// The kernel broadcasts uevents to every network namespace owned by the initial user namespace; the
    /// seccomp filter refuses the uevent netlink family, so none reaches a run even while the host makes them.
    func testHostDeviceEventsDoNotReachTheRun() throws {
        let trigger = "/sys/devices/virtual/mem/null/uevent"
        guard access(trigger, W_OK) == 0 else { throw XCTSkip("\(trigger) is not writable here") }
        let stop = Atomic<Bool>(false)
        let done = DispatchSemaphore(value: 0)
        try spawnDetachedThread {
            while !stop.load(ordering: .relaxed) {
                usleep(200_000)
                let fd = open(trigger, O_WRONLY | O_CLOEXEC)
                if fd >= 0 { _ = write(fd, "change", 6); close(fd) }
            }
            done.signal()
        }
        attack("net-netlink-uevent.py", "network", expect: "socket:EPERM,socket-high:EPERM")
        stop.store(true, ordering: .relaxed)
        done.wait()
    }

    func testRawPacketVsockAndAlgSocketsAreRefused() {
        attack("net-raw-packet-sockets.py", "network", expect: "raw:EPERM,packet:EPERM,vsock:EPERM,alg:EPERM,packet-high:EPERM,vsock-high:EPERM,alg-high:EPERM")
    }

    // MARK: - Filesystem

    func testHostSecretsAreAbsent() {
        attack("fs-host-secrets.py", "filesystem", expect: "shadow:ENOENT,root:ENOENT,home:ENOENT,ssh:ENOENT")
    }

    func testInitsEnvironmentAndMemoryAreUnreadable() {
        attack("fs-init-environ.py", "filesystem", expect: "environ:EACCES,mem:EACCES")
    }

    func testTheSupervisorBinaryCannotBeOpenedForWriting() throws {
        let before = try FileManager.default.attributesOfItem(atPath: DaemonFixture.gloveboxd)[.modificationDate] as? Date
        attack("fs-overwrite-supervisor.py", "filesystem", expect: "init-exe:EACCES,self-exe:EACCES")
        let after = try FileManager.default.attributesOfItem(atPath: DaemonFixture.gloveboxd)[.modificationDate] as? Date
        check(before == after, "gloveboxd's binary must be untouched")
    }

    func testSystemPathsAreReadOnly() {
        attack("fs-write-system.py", "filesystem", expect: "usr:EROFS,etc:EROFS,root:EROFS")
        for path in ["/usr/bin/glovebox-attack", "/etc/cron.d-attack", "/attack"] {
            check(access(path, F_OK) != 0, "\(path) must not exist on the host")
        }
    }

    func testKernelTunablesAreReadOnly() throws {
        let corePattern = try String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)
        // sysrq-trigger exists only on kernels built with CONFIG_MAGIC_SYSRQ.
        let sysrq = access("/proc/sysrq-trigger", F_OK) == 0 ? "EROFS" : "ENOENT"
        attack("fs-proc-sys.py", "filesystem", expect: "core_pattern:EROFS,hostname:EROFS,ns_last_pid:EROFS,sysrq:\(sysrq)")
        check((try? String(contentsOfFile: "/proc/sys/kernel/core_pattern", encoding: .utf8)) == corePattern, "core_pattern must be unchanged")
    }

    func testSysAndHostDevicesAreAbsentAndNoneCanBeMade() {
        attack("fs-sys-and-devices.py", "filesystem", expect: "sys:ENOENT,kmsg:ENOENT,mem:ENOENT,sda:ENOENT,mknod:EPERM")
    }

    func testProcRootLinksLeadNowhere() {
        attack("fs-proc-root.py", "filesystem", expect: "init-root:EACCES,init-cwd:EACCES,self-root:ENOENT")
    }

    func testCgroupReleaseAgentIsUnreachable() {
        attack("fs-cgroup-release-agent.py", "filesystem", expect: "sysfs:ENOENT,mount:EPERM,own:/")
    }

    func testFileHandlesAreRefused() {
        attack("fs-file-handles.py", "filesystem", expect: "name_to_handle_at:EPERM,open_by_handle_at:EPERM")
    }

    // MARK: - Privilege

    func testSetuidBinariesGiveNothing() {
        attack("priv-setuid-binaries.py", "privilege", expect: "nosuid,su:exit1,su-stdout:none,mount:exit32")
    }

    func testCapabilitiesCannotBeRaised() {
        attack("priv-capabilities.py", "privilege", expect: "capset:EPERM,setuid0:EPERM,ambient:EPERM")
    }

    func testNoNestedUserNamespace() {
        attack("priv-user-namespace.py", "privilege", expect: "unshare:EPERM,clone:EPERM,clone-high:EPERM,clone3:ENOSYS,setns:EPERM")
    }

    func testTheMountTreeCannotChange() {
        attack("priv-mounts.py", "privilege",
               expect: "mount:EPERM,umount2:EPERM,pivot_root:EPERM,chroot:EPERM,fsopen:EPERM,open_tree:EPERM,move_mount:EPERM")
    }

    func testKeyringsAreRefused() {
        attack("priv-keyrings.py", "privilege", expect: "add_key:EPERM,request_key:EPERM,keyctl:EPERM")
    }

    func testExploitPrimitivesAreRefused() {
        attack("priv-kernel-interfaces.py", "privilege", expect: "bpf:EPERM,perf_event_open:EPERM,userfaultfd:EPERM,io_uring_setup:EPERM,lsm_set_self_attr:EPERM")
    }

    func testCallsOutsideTheAllowListAnswerENOSYS() {
        attack("priv-unlisted-calls.py", "privilege", expect: "lsm_get_self_attr:ENOSYS,pidfd_getfd:ENOSYS,process_madvise:ENOSYS,future-call:ENOSYS,vhangup:EPERM")
    }

    func testPersonalityCannotWeakenTheAddressSpace() {
        attack("priv-personality.py", "privilege", expect: "no-aslr:EPERM,no-aslr-high:EPERM,read-exec:EPERM,read-exec-high:EPERM,"
               + "page-zero:EPERM,page-zero-high:EPERM,query:ok")
    }

    func testKernelCodeCannotBeLoaded() {
        attack("priv-kernel-code.py", "privilege", expect: "init_module:EPERM,finit_module:EPERM,kexec_load:EPERM,kexec_file_load:EPERM")
    }

    func testTheClockCannotBeSet() {
        attack("priv-clock.py", "privilege", expect: "clock_settime:EPERM,settimeofday:EPERM,adjtimex:EPERM")
    }

    // MARK: - Other processes

    func testInitCannotBeTraced() {
        attack("proc-ptrace.py", "processes", expect: "attach:EPERM,seize:EPERM,traceme:EPERM,process_vm_readv:EPERM")
    }

    func testOnlyTheRunsOwnProcessesAreVisible() {
        attack("proc-visible.py", "processes", expect: "pids:1+2,init:glovebox-init")
    }

    func testHostPidsCannotBeSignalled() {
        attack("proc-kill-host.py", "processes", expect: "daemon:ESRCH,client:ESRCH", arguments: ["\(daemon.pid)", "\(getpid())"])
        daemonServes()
    }

    func testInitCannotBeWeakenedByTheProgram() {
        attack("proc-init-untouchable.py", "processes", expect: "prlimit:EPERM,renice:EPERM,affinity:EPERM,ioprio:EPERM")
    }

    func testKillingEverythingKillsOnlyTheRun() {
        attack("proc-kill-everything.py", "processes", expect: "kill-1:ok,child:killed,kill-init:EPERM/EPERM,init-state:S")
        daemonServes()
    }

    // MARK: - Terminal

    func testTerminalInjectionIsRefused() {
        attack("tty-injection.py", "terminal", expect: "tiocsti:EPERM,tiocsti-high:EPERM,tioclinux:EPERM,tioclinux-high:EPERM")
    }

    // MARK: - Lifetime

    func testDetachedProcessesDieWithTheRun() {
        let tag = marker()
        attack("life-double-fork.py", "lifetime", expect: "detached", arguments: [tag])
        check(HostState.processes(containing: tag) == [], "nothing of the run may outlive it: \(HostState.processes(containing: tag))")
    }

    func testAForkChainEndsAtTheTimeout() throws {
        let tag = marker()
        let outcome = attack("life-fork-chase.py", "lifetime", expect: "chasing", status: .timeout, arguments: [tag],
                             limits: LimitRequest(timeoutSeconds: 2))
        check((outcome.record?.wallSeconds ?? 99) < 3, "the run must end at its 2 s limit, took \(outcome.record?.wallSeconds ?? -1)")
        check(HostState.processes(containing: tag) == [], "no process of the chain may survive: \(HostState.processes(containing: tag))")
    }

    func testNothingCanBeScheduledForLater() {
        attack("life-schedulers.py", "lifetime", expect: "at:ENOENT,batch:ENOENT,crontab:ENOENT,systemd-run:exit1")
    }

    func testTheClientsFilesAreNotChanged() {
        let before = snapshot(workdir)
        attack("life-relaunch-workdir.py", "lifetime", expect: "changed")
        check(snapshot(workdir) == before, "the client's directory must be unchanged without --output")
    }

    func testTheTimeoutCannotBeExtended() {
        let outcome = attack("life-stop-the-clock.py", "lifetime", expect: "sigstop-init:EPERM,clock_settime:EPERM", status: .timeout,
                             limits: LimitRequest(timeoutSeconds: 1))
        check((outcome.record?.wallSeconds ?? 99) < 1.5, "the run must end at its 1 s limit, took \(outcome.record?.wallSeconds ?? -1)")
    }

    // MARK: - Exhaustion

    func testAForkBombIsHeldAtThePidsLimit() {
        attack("exh-fork-bomb.py", "exhaustion", expect: "fork:EAGAIN", limitsHit: [.pids], limits: LimitRequest(timeoutSeconds: 20, pids: 32))
        daemonServes()
    }

    func testThreadsAreHeldAtThePidsLimit() throws {
        let cc = try DaemonFixture.run(["/usr/bin/cc", "-O", "-pthread", "-o", workdir + "/exh-threads", workdir + "/exh-threads.c"])
        XCTAssertEqual(cc.status, 0, cc.stderr)
        attack("exh-threads", "exhaustion", expect: "pthread_create:EAGAIN", limitsHit: [.pids], limits: LimitRequest(timeoutSeconds: 20, pids: 32))
    }

    func testMemoryIsHeldAtTheLimit() {
        attack("exh-memory.py", "exhaustion", expect: "allocating", status: .oom, limitsHit: [.memory],
               limits: LimitRequest(timeoutSeconds: 20, memoryBytes: 64 << 20))
        daemonServes()
    }

    func testDiskIsHeldAtTheStorageCap() {
        attack("exh-disk.py", "exhaustion", expect: "write:ENOSPC", limitsHit: [.storage], limits: LimitRequest(timeoutSeconds: 20, storageBytes: 8 << 20))
    }

    func testInodesAreHeldAtTheStorageCap() {
        attack("exh-inodes.py", "exhaustion", expect: "create:ENOSPC,under-4096:True", limitsHit: [.storage],
               limits: LimitRequest(timeoutSeconds: 20, storageBytes: 8 << 20))
    }

    func testAStdoutFloodIsDeliveredAndOthersAreServedMeanwhile() throws {
        let fixture = daemon
        let other = Mutex<RunStatus?>(nil)
        let done = DispatchSemaphore(value: 0)
        try spawnDetachedThread {
            usleep(50_000)  // the flood has started
            let status = fixture.run(["/bin/true"]).record?.status
            other.withLock { $0 = status }
            done.signal()
        }
        let outcome = attack("exh-stdout-flood.py", "exhaustion", expect: "flooded")
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success)
        check(outcome.stdout.utf8.count == (200 << 20) + "RESULT flooded\n".utf8.count, "all 200 MiB must reach the client, got \(outcome.stdout.utf8.count)")
        check(other.withLock { $0 } == .ok, "another client must be served during the flood")
    }

    func testOpenFilesAreHeldAtRlimitNofile() {
        attack("exh-open-files.py", "exhaustion", expect: "open:EMFILE,highest-fd:4095,raise:EPERM")
    }

    // MARK: - Leaks

    /// With a core_pattern that pipes to a program on the host (as systemd-coredump and apport install),
    /// a crashing run must not reach it. The test's program leaves a mark when it runs; a crash on the
    /// host with RLIMIT_CORE 0 shows that it does (the kernel ignores 0 for pipes).
    func testACrashingRunNeverReachesTheHostsCrashHandler() throws {
        let pattern = "/proc/sys/kernel/core_pattern"
        let saved = try String(contentsOfFile: pattern, encoding: .utf8)
        let marks = daemon.scratch + "/core-marks-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(marks, 0o755)
        let handler = marks + "/handler"
        try DaemonFixture.write(handler, "#!/bin/sh\ncat >/dev/null\ntouch \(marks)/dumped-$1\n", mode: 0o755)
        try DaemonFixture.write(pattern, "|\(handler) %p")
        defer { try? DaemonFixture.write(pattern, saved) }
        func dumped() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: marks)) ?? []).filter { $0.hasPrefix("dumped-") } }

        let control = try DaemonFixture.run(["/bin/sh", "-c", "ulimit -c 0; exec /usr/bin/python3 -c 'import os, signal; os.kill(os.getpid(), signal.SIGSEGV)'"])
        XCTAssertEqual(control.status, 128 + SIGSEGV)
        XCTAssertTrue(eventually { !dumped().isEmpty }, "the test's own control: a host crash with RLIMIT_CORE 0 reaches the handler")
        let before = dumped()

        attack("leak-core-dump.py", "leaks", expect: "limit:1/1,setrlimit:ok,prlimit:ok,prlimit-old:EPERM,after:1/1", status: .signaled, signal: SIGSEGV)
        usleep(500_000)
        check(dumped() == before, "the handler ran for the run: \(dumped())")
    }

    func testProcShowsNothingOfTheHostsKernel() {
        attack("fs-proc-host-kernel.py", "filesystem", expect: "leaked:none,proc-fs:EROFS")
    }

    func testTheHostsDeviceNodesCannotBeChanged() throws {
        var before = stat()
        XCTAssertEqual(stat("/dev/null", &before), 0)
        attack("fs-device-nodes.py", "filesystem", expect: "write-null:ok,touch-null:EROFS,chmod-null:EROFS,shm-exec:EACCES")
        var after = stat()
        XCTAssertEqual(stat("/dev/null", &after), 0)
        check(after.st_mtim.tv_sec == before.st_mtim.tv_sec && after.st_mode == before.st_mode, "the host's /dev/null changed")
    }

    func testNoDescriptorLeaksIntoTheRun() {
        attack("leak-descriptors.py", "leaks", expect: "fds:0+1+2,dirs-or-sockets:none")
    }

    func testTheClientsEnvironmentStaysOutside() {
        let secret = "sk-glovebox-\(UInt32.random(in: 0...UInt32.max))"
        setenv("GLOVEBOX_ATTACK_SECRET", secret, 1)
        defer { unsetenv("GLOVEBOX_ATTACK_SECRET") }
        let outcome = attack("leak-environment.py", "leaks", expect: "names:HOME+LANG+LC_ALL+PATH+PYTHONDONTWRITEBYTECODE,secret:absent")
        check(!outcome.stdout.contains(secret), "the secret must not appear")
    }

    func testLinksFifosAndSocketsAreNotCarriedOut() throws {
        let shadow = try? FileManager.default.attributesOfItem(atPath: "/etc/shadow")[.modificationDate] as? Date
        attack("leak-output-links.py", "leaks", expect: "device:EPERM,planted", outputs: ["out"])
        let out = workdir + "/out"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: out).sorted()) ?? []
        check(names == ["hardlink", "regular"], "only regular files come back, got \(names)")
        var st = stat()
        check(lstat(out + "/hardlink", &st) == 0 && st.st_nlink == 1 && (st.st_mode & S_IFMT) == S_IFREG,
              "a hard link comes back as a file of its own")
        // (`glovebox run` names each one left behind on stderr; WorkspaceTests covers that message.)
        check((try? FileManager.default.attributesOfItem(atPath: "/etc/shadow")[.modificationDate] as? Date) == shadow, "/etc/shadow untouched")
    }
}
