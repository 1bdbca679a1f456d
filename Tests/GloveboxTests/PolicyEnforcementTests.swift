import GloveboxSystem
import Policy
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Policy settings that reach the kernel: extra seccomp denials, the CPU quota, init's reaping, and the
/// cleanup of every run's scratch space.
final class PolicyEnforcementTests: DaemonTestCase {

    override class var policies: [String: String] {
        ["nomkdir": policy(cpus: 0.5, storage: "16MiB") + "\n\n[seccomp]\ndeny = [\"mkdir\", \"mkdirat\"]\n",
         "unknownsyscall": policy() + "\n\n[seccomp]\ndeny = [\"no_such_syscall\"]\n",
         "allcores": policy(cpus: Double(max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))),
         "shm": policy(memory: "512MiB"), "smallshm": policy(memory: "512MiB", extra: "shm = \"32MiB\"")]
    }

    func testAPolicyCanDenyMoreSystemCalls() {
        let denied = daemon.run([python, "-c", "import os\ntry:\n os.mkdir('/tmp/x'); print('made')\nexcept OSError as e: print(e.errno)"], template: "nomkdir")
        XCTAssertEqual(denied.stdout, "\(EPERM)\n", denied.stderr)
        let allowed = daemon.run([python, "-c", "import os\nos.mkdir('/tmp/x'); print('made')"])
        XCTAssertEqual(allowed.stdout, "made\n", allowed.stderr)
    }

    func testAPolicyDenyingAnUnknownSystemCallIsRefusedWithItsName() {
        XCTAssertTrue(daemon.log.contains("no_such_syscall"), daemon.log)
        XCTAssertTrue(daemon.run(["/bin/true"], template: "unknownsyscall").error?.contains("unknown template") ?? false)
    }

    func testTheCPUQuotaThrottlesABusyLoop() throws {
        let spin = "import time\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
        let outcome = daemon.run([python, "-c", spin], template: "nomkdir")
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .ok)
        let cpu = (record.userCPUSeconds ?? 0) + (record.systemCPUSeconds ?? 0)
        let wall = try XCTUnwrap(record.wallSeconds)
        XCTAssertLessThan(cpu / wall, 0.7, "0.5 CPU: cpu \(cpu) s over wall \(wall) s")
        XCTAssertTrue(record.limitsHit.contains(.cpuThrottled), "\(record.limitsHit)")
    }

    /// A quota as large as the machine throttles now and then, at no cost worth naming: not reported.
    func testAQuotaThatCostsTheRunNothingIsNotReportedAsThrottling() throws {
        let cores = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let spin = "import os, time\nfor _ in range(\(cores - 1)):\n    if os.fork() == 0: break\nend = time.monotonic() + 1.5\nwhile time.monotonic() < end: pass"
        let outcome = daemon.run([python, "-c", spin], template: "allcores")
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .ok)
        XCTAssertFalse(record.limitsHit.contains(.cpuThrottled), "\(record.limitsHit)")
    }

    /// /dev/shm is half the memory limit unless the policy says (Docker's fixed 64 MiB broke PyTorch's
    /// DataLoader), lowered with a client's --memory, and named in limits_hit when it filled.
    func testDevShmIsSizedFromTheMemoryLimitAndReportedWhenFull() throws {
        func size(_ template: String, _ limits: LimitRequest = LimitRequest()) -> String {
            daemon.run([python, "-c", "import os; s = os.statvfs('/dev/shm'); print(s.f_blocks * s.f_frsize)"], template: template, limits: limits).stdout
        }
        XCTAssertEqual(size("shm"), "\(256 << 20)\n")
        XCTAssertEqual(size("smallshm"), "\(32 << 20)\n")
        XCTAssertEqual(size("shm", LimitRequest(memoryBytes: 128 << 20)), "\(64 << 20)\n")
        let fill = daemon.run(["/bin/sh", "-c", "head -c 300000000 /dev/zero > /dev/shm/batch"], template: "shm")
        let record = try XCTUnwrap(fill.record, fill.error ?? "")
        XCTAssertEqual(record.status, .exitedNonzero, fill.stderr)
        XCTAssertTrue(fill.stderr.contains("No space left on device"), fill.stderr)
        XCTAssertEqual(record.limitsHit, [.shm])
        XCTAssertEqual(daemon.run(["/bin/true"], template: "shm").record?.limitsHit, [], "and not otherwise")
    }

    func testInitReapsOrphansSoNoZombiesAccumulate() {
        let script = """
        import os, time
        for _ in range(20):
            if os.fork() == 0:
                if os.fork() == 0:
                    os._exit(0)
                os._exit(0)
        time.sleep(0.5)
        for _ in range(20):
            try: os.wait()
            except ChildProcessError: break
        zombies = []
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                with open(f"/proc/{pid}/stat") as f:
                    if f.read().split(") ")[1].startswith("Z"): zombies.append(pid)
        print(len(zombies))
        """
        let outcome = daemon.run([python, "-c", script])
        XCTAssertEqual(outcome.stdout, "0\n", outcome.stderr)
    }

    func testEveryRunsScratchSpaceIsRemovedAfterwards() throws {
        let workdir = daemon.scratch + "/wd"
        mkdir(workdir, 0o755)
        XCTAssertEqual(daemon.run(["/bin/sh", "-c", "echo x > /tmp/a; echo y > b"], workdir: workdir).record?.status, .ok)
        XCTAssertEqual(daemon.run(["/bin/sh", "-c", "echo x > /tmp/a"], template: "python", limits: LimitRequest(storageBytes: 300 << 20)).record?.status, .ok)
        // The client hears as soon as the run's processes are gone and its record is saved; the empty
        // scratch space goes right after.
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline && (!daemon.runDirectories.isEmpty || !HostState.gloveboxMounts().isEmpty) {
            usleep(10_000)
        }
        XCTAssertEqual(daemon.runDirectories, [])
        XCTAssertEqual(HostState.gloveboxMounts(), [])
    }

    func testPolicyCheckNamesTheFileLineAndReason() throws {
        let bad = daemon.scratch + "/bad.toml"
        try DaemonFixture.write(bad, "[limits]\ntimeout = \"1m\"\nmemory = 12\n")
        let result = try DaemonFixture.run([DaemonFixture.glovebox, "policy", "check", bad, daemon.policyDir + "/default.toml"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("bad.toml:3"), result.stdout)
        XCTAssertTrue(result.stdout.contains("default.toml: ok"), result.stdout)
    }

    func testTheClientLinksNeitherTheTOMLParserNorSQLite() throws {
        // The unprivileged client needs only the policy and record types: the TOML parser (C++) and SQLite
        // stay in gloveboxd. `glovebox policy check` reaches the parser through `gloveboxd --check-policy`.
        let libraries = try DaemonFixture.run(["/usr/bin/ldd", DaemonFixture.glovebox]).stdout
        XCTAssertFalse(libraries.contains("libsqlite3"), libraries)
        let symbols = try DaemonFixture.run(["/usr/bin/nm", "--defined-only", DaemonFixture.glovebox]).stdout
        XCTAssertFalse(symbols.contains("TOMLKit"), "glovebox contains TOMLKit symbols")
        XCTAssertFalse(symbols.contains("sqlite3_open"), "glovebox contains SQLite")
        XCTAssertTrue(symbols.contains("RunFastPath"), "nm read the wrong binary")
    }
}

extension PolicyEnforcementTests {
    /// Root on the host signals the run's init, which passes the signal on to the program. (The program
    /// itself may not signal its init: a uid of its own, AttackSuiteTests.testInitCannotBeWeakenedByTheProgram.)
    func testInitForwardsSignalsToTheProgram() throws {
        let tag = "forward-\(UInt32.random(in: 0...UInt32.max))"
        try spawnDetachedThread {
            for _ in 0..<500 {
                let inits = HostState.processes(containing: "glovebox-init --run .* -- /bin/sh -c : \(tag);")
                if let pid = inits.first.flatMap({ pid_t($0.split(separator: " ").first ?? "") }) {
                    usleep(200_000)  // the trap is set
                    kill(pid, SIGTERM)
                    return
                }
                usleep(20_000)
            }
        }
        let outcome = daemon.run(["/bin/sh", "-c", ": \(tag); trap 'echo got TERM; exit 3' TERM; sleep 20 & wait"])
        XCTAssertEqual(outcome.stdout, "got TERM\n", outcome.stderr)
        XCTAssertEqual(outcome.record?.exitCode, 3)
    }
}
