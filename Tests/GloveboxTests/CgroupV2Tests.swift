import Foundation
import GloveboxSystem
import GloveboxClient
import Policy
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The cgroup v2 driver on a cgroup-v2-only kernel. Runs INSIDE the v2vm guest (CgroupV2VMTests boots it
/// and sets GLOVEBOX_V2VM_GUEST=1); everything there is 30–90× slower, so each test covers several limits
/// with one daemon, and limits leave headroom.
final class CgroupV2GuestTests: XCTestCase {
    let python = "/usr/bin/python3"
    static let cgroupRoot = "/sys/fs/cgroup"
    /// A tmpfs volume: larger caps take a loop device, and the guest kernel has no loop module loaded.
    static let storage: UInt64 = 64 << 20

    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["GLOVEBOX_V2VM_GUEST"] == "1" else {
            throw XCTSkip("runs inside the cgroup-v2 VM (CgroupV2VMTests starts it there)")
        }
        signal(SIGPIPE, SIG_IGN)
        let mounts = (try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? ""
        XCTAssertTrue(mounts.split(separator: "\n").contains { $0.split(separator: " ").dropFirst().prefix(2) == ["/sys/fs/cgroup", "cgroup2"] },
                      "/sys/fs/cgroup must be cgroup2 in the guest:\n\(mounts)")
    }

    /// The daemon in the root cgroup (no systemd, as in the VM): it stays there, builds
    /// /sys/fs/cgroup/glovebox-<id>/run-N, enforces memory (group OOM kill), pids and the wall clock,
    /// removes each run's cgroup, and its whole subtree at shutdown.
    func testADaemonInTheRootCgroupEnforcesLimitsAndLeavesNothing() throws {
        let daemon = try DaemonFixture()
        defer { daemon.stop() }
        XCTAssertTrue(daemon.log.contains("cgroup v2 at /sys/fs/cgroup/glovebox-"), daemon.log)
        XCTAssertEqual(Self.cgroupOf(daemon.pid), "/", "a daemon in the root cgroup stays there")
        let instances = Self.instanceDirectories(under: Self.cgroupRoot)
        XCTAssertEqual(instances.count, 1, "\(instances)")

        checkLimits(daemon, pid: daemon.pid, instances: instances)

        daemon.stopDaemon()
        XCTAssertEqual(HostState.gloveboxCgroups(), [], "the daemon's subtree must go at shutdown\n\(daemon.log.suffix(3000))")
    }

    /// As under systemd with Delegate=yes: the daemon starts in a cgroup of its own whose controllers
    /// are available but not enabled for children. It must move itself to <own>/supervisor (the
    /// no-internal-processes rule), enable the controllers in <own>, and build its subtree there.
    func testADaemonInADelegatedCgroupMovesAsideAndEnforcesLimits() throws {
        let service = Self.cgroupRoot + "/gbtest-delegated.service"
        let daemon = try DaemonFixture()
        var delegated: pid_t = 0
        defer {
            if delegated > 0 { kill(delegated, SIGKILL); waitpid(delegated, nil, 0) }
            daemon.stop()
            for dir in Self.instanceDirectories(under: service) {
                for run in Self.runDirectories(in: dir) {
                    Self.writeCgroupFile(dir + "/" + run + "/cgroup.kill", "1")
                    _ = Self.eventually(seconds: 10) { rmdir(dir + "/" + run) == 0 }
                }
                rmdir(dir)
            }
            rmdir(service + "/supervisor")
            rmdir(service)
        }
        daemon.stopDaemon()  // started in the root cgroup by the fixture; started again below, delegated
        XCTAssertEqual(HostState.gloveboxCgroups(), [])
        delegated = try Self.spawnDaemon(daemon, inCgroup: service)

        XCTAssertEqual(Self.cgroupOf(delegated), "/gbtest-delegated.service/supervisor", daemon.log)
        let subtreeControl = Set(((try? String(contentsOfFile: service + "/cgroup.subtree_control", encoding: .utf8)) ?? "").split(whereSeparator: \.isWhitespace).map(String.init))
        XCTAssertTrue(subtreeControl.isSuperset(of: ["memory", "pids", "cpu"]), "\(subtreeControl)")
        let instances = Self.instanceDirectories(under: service)
        XCTAssertEqual(instances.count, 1, "the subtree belongs under the daemon's own cgroup: \(instances)\n\(daemon.log)")
        XCTAssertEqual(Self.instanceDirectories(under: Self.cgroupRoot), [], "nothing at the root")

        checkLimits(daemon, pid: delegated, instances: instances)

        kill(delegated, SIGTERM)
        var status: Int32 = 0
        waitpid(delegated, &status, 0)
        delegated = 0
        XCTAssertEqual(status, 0, daemon.log)
        XCTAssertEqual(Self.instanceDirectories(under: service), [], "the daemon's subtree must go at shutdown")
        XCTAssertEqual(HostState.gloveboxCgroups(), [])
    }

    // MARK: - Helpers

    private func checkLimits(_ daemon: DaemonFixture, pid: pid_t, instances: [String], file: StaticString = #filePath, line: UInt = #line) {
        func noRunsLeft(_ what: String) {
            XCTAssertTrue(Self.eventually(seconds: 30) { instances.allSatisfy { Self.runDirectories(in: $0).isEmpty } },
                          "run cgroups left after \(what): \(instances.map { Self.runDirectories(in: $0) })", file: file, line: line)
        }

        let echo = daemon.run(["/bin/echo", "hello"], limits: LimitRequest(timeoutSeconds: 120, storageBytes: Self.storage))
        XCTAssertEqual(echo.record?.status, .ok, "\(echo.error ?? "") \(echo.stderr)\n\(daemon.log.suffix(3000))", file: file, line: line)
        XCTAssertEqual(echo.stdout, "hello\n", file: file, line: line)
        noRunsLeft("echo")

        // Touches every page (bytes * n is filled); 256 MiB if the limit did not hold.
        let hog = daemon.run([python, "-c", "b = []\nfor i in range(256): b.append(b'x' * (1 << 20))\nprint('survived')"],
                             limits: LimitRequest(timeoutSeconds: 240, memoryBytes: 64 << 20, storageBytes: Self.storage))
        XCTAssertEqual(hog.record?.status, .oom, "\(hog.error ?? "") \(hog.stdout) \(hog.stderr)\n\(daemon.log.suffix(3000))", file: file, line: line)
        XCTAssertTrue(hog.record?.limitsHit.contains(.memory) ?? false, "\(hog.record?.limitsHit ?? [])", file: file, line: line)
        XCTAssertFalse(hog.stdout.contains("survived"), file: file, line: line)
        XCTAssertGreaterThan(hog.record?.peakMemoryBytes ?? 0, 32 << 20, "memory.peak is read", file: file, line: line)
        XCTAssertLessThanOrEqual(hog.record?.peakMemoryBytes ?? .max, 64 << 20, "memory.peak within memory.max", file: file, line: line)
        noRunsLeft("an OOM")

        // A fork loop: children sleep, so they accumulate up to pids.max; the parent counts refusals.
        let forks = daemon.run([python, "-c", """
            import os, time
            failed = 0
            for i in range(64):
                try:
                    pid = os.fork()
                except OSError:
                    failed += 1
                    continue
                if pid == 0:
                    time.sleep(600)
                    os._exit(0)
            print(failed)
            """], limits: LimitRequest(timeoutSeconds: 240, pids: 32, storageBytes: Self.storage))
        XCTAssertEqual(forks.record?.status, .ok, "\(forks.error ?? "") \(forks.stderr)\n\(daemon.log.suffix(3000))", file: file, line: line)
        XCTAssertTrue(forks.record?.limitsHit.contains(.pids) ?? false, "\(forks.record?.limitsHit ?? [])", file: file, line: line)
        XCTAssertGreaterThanOrEqual(Int(forks.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, 64 - 32, forks.stdout, file: file, line: line)
        noRunsLeft("a fork loop (its sleeping children go with it)")

        // While a run idles, so does the daemon: its poll on memory.events must not spin (kernfs reports
        // POLLPRI until the file is read through the polled descriptor).
        let cpuBefore = Self.cpuSeconds(of: pid), started = Date()
        let sleeper = daemon.run(["/bin/sleep", "1000"], limits: LimitRequest(timeoutSeconds: 3, storageBytes: Self.storage))
        let wall = Date().timeIntervalSince(started), daemonCPU = Self.cpuSeconds(of: pid) - cpuBefore
        XCTAssertEqual(sleeper.record?.status, .timeout, "\(sleeper.error ?? "") \(sleeper.stderr)\n\(daemon.log.suffix(3000))", file: file, line: line)
        XCTAssertLessThan(sleeper.record?.wallSeconds ?? .infinity, 60, file: file, line: line)
        XCTAssertLessThan(daemonCPU, wall / 2, "the daemon used \(daemonCPU) s of CPU during a \(wall) s run that only slept", file: file, line: line)
        noRunsLeft("a timeout")
    }

    /// gloveboxd with the fixture's socket, state and policies, started by a shell that first moves
    /// itself into `cgroup` (as systemd places a service in its own cgroup). Returns its pid.
    static func spawnDaemon(_ fixture: DaemonFixture, inCgroup cgroup: String) throws -> pid_t {
        unlink(fixture.socket)
        let script = "mkdir -p \"$1\" && echo $$ > \"$1/cgroup.procs\" && shift && exec \"$@\""
        let pid = try DaemonFixture.spawn(["/bin/sh", "-c", script, "sh", cgroup, DaemonFixture.gloveboxd, "--socket", fixture.socket,
                                           "--state-dir", fixture.stateDir, "--policy-dir", fixture.policyDir, "--log-level", "debug"],
                                          stdout: fixture.logPath, stderr: fixture.logPath)
        let deadline = Date().addingTimeInterval(120)
        while access(fixture.socket, F_OK) != 0 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { throw ClientError("gloveboxd exited at start (status \(status)):\n\(fixture.log)") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, nil, 0)
                throw ClientError("gloveboxd did not create its socket:\n\(fixture.log)")
            }
            usleep(20_000)
        }
        return pid
    }

    /// User plus system CPU time of a process, from /proc/<pid>/stat.
    static func cpuSeconds(of pid: pid_t) -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")  // from field 3 (state) on
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The unified-hierarchy path of a process, from /proc/<pid>/cgroup ("0::<path>").
    static func cgroupOf(_ pid: pid_t) -> String {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix("0::") }.map { String($0.dropFirst(3)) } ?? "?"
    }

    static func instanceDirectories(under dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("glovebox-") }.sorted().map { dir + "/" + $0 }
    }

    static func runDirectories(in dir: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasPrefix("run-") }.sorted()
    }

    static func writeCgroupFile(_ path: String, _ text: String) {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = text.withCString { write(fd, $0, strlen($0)) }
        close(fd)
    }

    /// The daemon removes a run's cgroup after it sent the record: wait for it, briefly.
    static func eventually(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { return false }
            usleep(20_000)
        }
        return true
    }
}

/// Boots the cgroup-v2-only VM (shared/tools/v2vm) and runs the guest tests there: CgroupV2GuestTests
/// (the daemon end to end), DeviceCgroupTests (the device BPF program) and WarmSandboxTests (sandboxes
/// made ahead, in cgroups a run adopts without renaming). Runs on the host.
final class CgroupV2VMTests: XCTestCase {
    static let guestClasses = ["GloveboxTests.CgroupV2GuestTests", "GloveboxTests.DeviceCgroupTests", "GloveboxTests.WarmSandboxTests"]

    func testTheCgroupV2DriverPassesItsTestsOnACgroupV2OnlyKernel() throws {
        guard let v2vm = try Self.runner() else { return }
        // The guest sees the host's / except /tmp and /run (its own tmpfs there): stage the binaries and
        // policies where it can read them, wherever this checkout lives.
        let stage = try Self.stageForGuest()
        defer { _ = try? DaemonFixture.run(["/bin/rm", "-rf", stage]) }
        let xctest = stage + "/build/gloveboxPackageTests.xctest"
        var environment = ["PATH": "/usr/bin:/bin", "V2VM_TIMEOUT": "500", "LANG": "C.UTF-8", "GLOVEBOX_REPOSITORY_ROOT": stage]
        for name in ["V2VM_CACHE", "V2VM_MEM", "V2VM_SMP"] { environment[name] = ProcessInfo.processInfo.environment[name] }
        let started = Date()
        let result = try DaemonFixture.run([v2vm, "/usr/bin/env", "GLOVEBOX_V2VM_GUEST=1", "GLOVEBOX_REPOSITORY_ROOT=\(stage)", xctest, Self.guestClasses.joined(separator: ",")],
                                           environment: environment)
        let output = result.stdout + result.stderr
        print("v2vm: guest tests took \(Int(Date().timeIntervalSince(started))) s")
        XCTAssertEqual(result.status, 0, "the guest tests failed (125: the VM itself failed):\n\(output)")
        XCTAssertFalse(output.contains("' skipped"), "a guest test was skipped:\n\(output)")
        for name in ["CgroupV2GuestTests", "DeviceCgroupTests", "WarmSandboxTests"] {
            XCTAssertTrue(output.contains("Test Suite '\(name)' passed"), "\(name) did not pass in the guest:\n\(output)")
        }
    }

    /// shared/tools/v2vm/run, ready to boot; nil (having failed the test with the reason) when it is missing
    /// or not set up. Skips inside the VM.
    static func runner() throws -> String? {
        if ProcessInfo.processInfo.environment["GLOVEBOX_V2VM_GUEST"] == "1" { throw XCTSkip("already inside the VM") }
        let v2vm = URL(fileURLWithPath: DaemonFixture.repositoryRoot + "/../shared/tools/v2vm/run").standardizedFileURL.path
        guard access(v2vm, X_OK) == 0 else {
            XCTFail("v2vm is missing at \(v2vm): the cgroup v2 tests need shared/tools/v2vm beside the repository")
            return nil
        }
        let cache = ProcessInfo.processInfo.environment["V2VM_CACHE"] ?? "/var/cache/v2vm"
        var initrd = stat()
        guard access(cache + "/vmlinux", R_OK) == 0, stat(cache + "/initrd.gz", &initrd) == 0 else {
            XCTFail("v2vm is not set up in \(cache): run \(URL(fileURLWithPath: v2vm).deletingLastPathComponent().path)/setup")
            return nil
        }
        guard initrd.st_size > 100_000 else {
            XCTFail("\(cache)/initrd.gz is \(initrd.st_size) bytes: setup ran without cpio (apt-get install cpio; remove \(cache) and run setup again)")
            return nil
        }
        return v2vm
    }

    /// A copy of the test bundle, both executables and the shipped policies under /var/tmp.
    static func stageForGuest() throws -> String {
        var template = Array("/var/tmp/glovebox-v2vm.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw ClientError("mkdtemp failed") }
        let stage = String(nulTerminated: template)
        chmod(stage, 0o755)
        mkdir(stage + "/build", 0o755)
        for name in ["gloveboxPackageTests.xctest", "gloveboxd", "glovebox", "glovebox-init"] {
            let copy = try DaemonFixture.run(["/bin/cp", DaemonFixture.buildDirectory + "/" + name, stage + "/build/"])
            guard copy.status == 0 else { throw ClientError("cannot stage \(name): \(copy.stderr)") }
        }
        let policies = try DaemonFixture.run(["/bin/cp", "-r", DaemonFixture.repositoryRoot + "/policies", stage + "/"])
        guard policies.status == 0 else { throw ClientError("cannot stage the policies: \(policies.stderr)") }
        return stage
    }
}
