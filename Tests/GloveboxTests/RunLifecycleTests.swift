import GloveboxClient
import GloveboxProtocol
import Policy
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// How runs end: exit, timeout, memory, process and storage limits, cancel, disconnect — and that nothing a
/// run started outlives it.
final class RunLifecycleTests: DaemonTestCase {

    /// A marker unique to one test, to find its processes on the host.
    func marker() -> String { "\(Int.random(in: 100_000...999_999)).\(Int.random(in: 1000...9999))" }

    func testExitStatusIsRecorded() {
        let outcome = daemon.run(["/bin/sh", "-c", "echo out; echo err >&2; exit 3"])
        XCTAssertEqual(outcome.record?.status, .exitedNonzero)
        XCTAssertEqual(outcome.record?.exitCode, 3)
        XCTAssertEqual(outcome.stdout, "out\n")
        XCTAssertEqual(outcome.stderr, "err\n")
        let signaled = daemon.run(["/bin/sh", "-c", "kill -TERM $$"])
        XCTAssertEqual(signaled.record?.status, .signaled)
        XCTAssertEqual(signaled.record?.signal, SIGTERM)
    }

    func testSleepPastTheTimeoutEndsAsTimeoutAtTheLimit() throws {
        let outcome = daemon.run(["/bin/sleep", "30"], limits: LimitRequest(timeoutSeconds: 1))
        let record = try XCTUnwrap(outcome.record)
        XCTAssertEqual(record.status, .timeout)
        let wall = try XCTUnwrap(record.wallSeconds)
        XCTAssertGreaterThanOrEqual(wall, 1.0)
        // The deadline is enforced on the monotonic clock and ends the whole cgroup at once; the
        // precision benchmark (bench/) measures the distribution, this bounds it.
        XCTAssertLessThan(wall, 1.1, "the run must be gone within 100 ms of its limit")
    }

    func testTheTimeoutCannotBeExtendedByTheProgram() throws {
        // The program ignores every signal it can and re-execs itself: the supervisor's deadline still holds.
        let script = "import signal, os, time\nfor s in range(1, 32):\n  try: signal.signal(s, signal.SIG_IGN)\n  except Exception: pass\ntime.sleep(30)"
        let outcome = daemon.run([python, "-c", script], limits: LimitRequest(timeoutSeconds: 1))
        XCTAssertEqual(outcome.record?.status, .timeout)
        XCTAssertLessThan(try XCTUnwrap(outcome.record?.wallSeconds), 1.5)
    }

    func testADoubleForkedSetsidGrandchildDoesNotOutliveTheRun() throws {
        let tag = marker()
        let script = """
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", "\(tag)"])
            os._exit(0)
        os.execv("/usr/bin/nohup", ["nohup", "/bin/sleep", "\(tag)1"])
        """
        // nohup'ed sleep is the main program here; it would run for days without the timeout.
        let outcome = daemon.run([python, "-c", script], limits: LimitRequest(timeoutSeconds: 2))
        XCTAssertEqual(outcome.record?.status, .timeout, outcome.stderr)
        XCTAssertEqual(HostState.processes(containing: tag), [])
        let exiting = daemon.run([python, "-c", script.replacingOccurrences(of: "os.execv(\"/usr/bin/nohup\", [\"nohup\", \"/bin/sleep\", \"\(tag)1\"])", with: "sys.exit(0)")])
        XCTAssertEqual(exiting.record?.status, .ok, exiting.stderr)
        XCTAssertEqual(HostState.processes(containing: tag), [], "the orphaned grandchild must die with the run")
    }

    func testAForkBombIsHeldAtThePidsLimit() throws {
        let script = """
        import os, time
        failures = 0
        for _ in range(2000):
            try:
                if os.fork() == 0:
                    time.sleep(5); os._exit(0)
            except OSError:
                failures += 1
        print("failures", failures > 0)
        """
        let outcome = daemon.run([python, "-c", script], limits: LimitRequest(timeoutSeconds: 20, pids: 32))
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(outcome.stdout, "failures True\n", outcome.stderr)
        XCTAssertTrue(record.limitsHit.contains(.pids), "\(record.limitsHit)")
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok, "the daemon keeps serving")
    }

    func testMemoryPastTheLimitEndsTheWholeRunAsOOM() throws {
        // The hog is a background child; the main program would sleep for 30 s. An OOM ends the whole run.
        let hog = "\(python) -c 'x = bytearray(256 * 1024 * 1024); import time; time.sleep(30)'"
        let outcome = daemon.run(["/bin/sh", "-c", "\(hog) & sleep 30"], limits: LimitRequest(timeoutSeconds: 20, memoryBytes: 64 << 20))
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .oom)
        XCTAssertTrue(record.limitsHit.contains(.memory))
        XCTAssertLessThan(try XCTUnwrap(record.wallSeconds), 10, "the OOM must end the run, not wait for the sleep")
    }

    func testADiskFillerGetsENOSPCAtTheStorageCapAndTheHostIsUntouched() throws {
        let workdir = daemon.scratch + "/fill"
        mkdir(workdir, 0o755)
        let script = """
        import errno
        for path in ("/workspace/big", "/tmp/big"):
            try:
                with open(path, "wb") as f:
                    for _ in range(64):
                        f.write(b"x" * (1 << 20)); f.flush()
                print(path, "wrote 64 MiB")
            except OSError as e:
                print(path, errno.errorcode[e.errno])
        """
        let outcome = daemon.run([python, "-c", script], limits: LimitRequest(storageBytes: 8 << 20), workdir: workdir)
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(outcome.stdout, "/workspace/big ENOSPC\n/tmp/big ENOSPC\n", outcome.stderr)
        XCTAssertTrue(record.limitsHit.contains(.storage), "\(record.limitsHit)")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workdir), [], "nothing reaches the workdir")
    }

    func testCancellingTheClientCancelsTheRun() throws {
        let recordPath = daemon.scratch + "/cancel.json"
        let tag = marker()
        let pid = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--record", recordPath, "--", "/bin/sleep", tag],
                                          stdout: "/dev/null", stderr: "/dev/null", environment: ["GLOVEBOX_SOCKET": daemon.socket])
        try waitFor { !HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty }
        kill(pid, SIGINT)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        XCTAssertEqual((status >> 8) & 0xff, 130)
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: recordPath)))
        XCTAssertEqual(record.status, .cancelled)
        XCTAssertEqual(record.message, "cancelled by the client")
        XCTAssertEqual(HostState.processes(containing: "^/bin/sleep \(tag)"), [])
    }

    func testARunOutlivesItsClientAndLogsFollowAttachesAgain() throws {
        let tag = marker()
        let script = "echo start \(tag); sleep 1; echo end \(tag)"
        let pid = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--", "/bin/sh", "-c", script],
                                          stdout: "/dev/null", stderr: "/dev/null", environment: ["GLOVEBOX_SOCKET": daemon.socket])
        try waitFor { (try? record(tagged: script)) != nil }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        let id = try XCTUnwrap(try record(tagged: script)).id
        XCTAssertEqual(try record(tagged: script)?.status, .running, "the run goes on without its client")
        let follow = try daemon.cli(["logs", "--follow", "\(id)"])
        XCTAssertEqual(follow.status, 0, follow.stderr)
        XCTAssertEqual(follow.stdout, "start \(tag)\nend \(tag)\n")
        XCTAssertEqual(try record(tagged: script)?.status, .ok)
        let again = try daemon.cli(["logs", "\(id)"])
        XCTAssertEqual(again.stdout, "start \(tag)\nend \(tag)\n", "the log is kept after the run")
    }

    /// A run's log file is made at its first output: a run that writes nothing leaves none and its log
    /// reads empty, and a follower that came before the first output gets all of it.
    func testALogIsMadeAtTheFirstOutputAndFollowedFromBeforeIt() throws {
        let quiet = daemon.run(["/bin/true"])
        let quietID = try XCTUnwrap(quiet.record?.id)
        XCTAssertEqual(access(daemon.stateDir + "/logs/run-\(quietID).log", F_OK), -1, "a run without output leaves no log file")
        let empty = try daemon.cli(["logs", "\(quietID)"])
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertEqual(empty.stdout, "")

        let tag = marker()
        let script = "sleep 1; echo late \(tag)"
        let pid = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--", "/bin/sh", "-c", script],
                                          stdout: "/dev/null", stderr: "/dev/null", environment: ["GLOVEBOX_SOCKET": daemon.socket])
        defer { var status: Int32 = 0; waitpid(pid, &status, 0) }
        try waitFor { (try? record(tagged: script)) != nil }
        let id = try XCTUnwrap(try record(tagged: script)).id
        XCTAssertEqual(access(daemon.stateDir + "/logs/run-\(id).log", F_OK), -1, "no output yet")
        let follow = try daemon.cli(["logs", "--follow", "\(id)"])
        XCTAssertEqual(follow.status, 0, follow.stderr)
        XCTAssertEqual(follow.stdout, "late \(tag)\n")
    }

    /// A client that dies with the run's output unread resets its connection (ECONNRESET, not EOF, on the
    /// daemon's side): that is still a client going away, and the run goes on under on_disconnect =
    /// "continue", rather than being cancelled as if the client had sent something malformed.
    func testAClientGoneWithOutputUnreadLeavesTheRunGoing() throws {
        let tag = marker()
        let script = "echo start \(tag); sleep 0.5; echo end \(tag)"
        let connection = try DaemonConnection(path: daemon.socket)
        try connection.send(Frame(.runRequest, RunRequest(template: "default", argv: ["/bin/sh", "-c", script]).wireJSON))
        try waitFor { (try? record(tagged: script)) != nil }
        usleep(200_000)  // the acceptance and "start" are now waiting, unread, in our receive queue
        connection.socket.close()
        try waitFor { (try? record(tagged: script))?.status != .running }
        let finished = try XCTUnwrap(try record(tagged: script))
        XCTAssertEqual(finished.status, .ok, finished.message)
    }

    func testKillEndsARunAndOnlyItsOwnerOrRootMayKillIt() throws {
        let tag = marker()
        let pid = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--", "/bin/sleep", tag],
                                          stdout: "/dev/null", stderr: "/dev/null", environment: ["GLOVEBOX_SOCKET": daemon.socket])
        defer { kill(pid, SIGKILL); waitpid(pid, nil, 0) }
        try waitFor { !HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty }
        let id = try XCTUnwrap(try record(tagged: tag)).id
        let ps = try daemon.cli(["ps"])
        XCTAssertTrue(ps.stdout.contains("/bin/sleep \(tag)"), ps.stdout)
        let other = try daemon.cli(["kill", "\(id)"], asUser: 65534)
        XCTAssertEqual(other.status, 125)
        XCTAssertTrue(other.stderr.contains("no run \(id) of yours"), other.stderr)
        XCTAssertFalse(try daemon.cli(["ps"], asUser: 65534).stdout.contains(tag), "others' runs are not listed")
        let killed = try daemon.cli(["kill", "\(id)"])
        XCTAssertEqual(killed.status, 0, killed.stderr)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        XCTAssertEqual((status >> 8) & 0xff, 130)
        XCTAssertEqual(HostState.processes(containing: "^/bin/sleep \(tag)"), [])
        let found = try XCTUnwrap(try record(tagged: tag))
        XCTAssertEqual(found.status, .cancelled)
        XCTAssertEqual(found.message, "killed by root (uid 0)")
    }

    func testTheClientExitsWithTheDocumentedStatus() throws {
        XCTAssertEqual(try daemon.cli(["run", "--", "/bin/sh", "-c", "exit 7"]).status, 7)
        XCTAssertEqual(try daemon.cli(["run", "--", "/bin/sh", "-c", "kill -KILL $$"]).status, 128 + SIGKILL)
        XCTAssertEqual(try daemon.cli(["run", "--timeout", "1s", "--", "/bin/sleep", "10"]).status, 124)
        let missing = try daemon.cli(["run", "--", "/no/such/program"])
        XCTAssertEqual(missing.status, 127)
        XCTAssertTrue(missing.stderr.contains("cannot execute /no/such/program: No such file or directory"), missing.stderr)
        XCTAssertEqual(try daemon.cli(["run", "--", "/bin/sh", "-c", "exit 7"]).stderr, "", "a program's own failure is its own to report")
        XCTAssertEqual(try daemon.cli(["run", "--memory", "1TiB", "--", "/bin/true"]).status, 125)
    }

    // MARK: - Helpers

    func waitFor(seconds: Double = 10, _ condition: () -> Bool) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline { throw XCTSkip("condition not met in \(seconds) s") }
            usleep(20_000)
        }
    }

    /// The newest record whose argv contains `tag`, read from the daemon's database.
    func record(tagged tag: String) throws -> RunRecord? {
        try RecordStore(path: daemon.stateDir + "/glovebox.db").runs(limit: 20).first { $0.argv.contains(tag) }
    }
}

extension RunLifecycleTests {
    func testALargeStorageCapIsDiskBackedAndHoldsAtItsSize() throws {
        // 320 MiB of storage under a 128 MiB memory limit: the volume is disk (an ext4 image on a loop
        // device), not RAM, and still ends in ENOSPC at its cap.
        let script = """
        import errno, os
        written = 0
        try:
            with open("/workspace/big", "wb") as f:
                while written < 400 << 20:
                    f.write(b"x" * (1 << 20)); written += 1 << 20
                    if written % (32 << 20) == 0: f.flush(); os.fsync(f.fileno())
        except OSError as e:
            print(errno.errorcode[e.errno], written >> 20)
        print(os.statvfs("/tmp").f_blocks * os.statvfs("/tmp").f_frsize >> 20)
        """
        let loopsBefore = try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout
        let outcome = daemon.run([python, "-c", script], template: "python", limits: LimitRequest(timeoutSeconds: 60, memoryBytes: 128 << 20, storageBytes: 320 << 20))
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .ok, outcome.stderr)
        let lines = outcome.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(lines.first?.split(separator: " ").first, "ENOSPC", outcome.stdout)
        let mib = Int(lines.first?.split(separator: " ").last ?? "") ?? 0
        XCTAssertTrue((304...320).contains(mib), "ENOSPC after \(mib) MiB: within 5 % of the cap (filesystem metadata)")
        XCTAssertTrue(record.limitsHit.contains(.storage))
        XCTAssertFalse(record.limitsHit.contains(.memory))
        let deadline = Date().addingTimeInterval(5)
        while try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout != loopsBefore && Date() < deadline { usleep(20_000) }
        XCTAssertEqual(try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout, loopsBefore, "the loop device is gone with the run")
    }

    /// Each run's record carries the machine as gloveboxd measured it: the CPU model and count, what the run
    /// could use of them, and its memory limit.
    func testTheRecordCarriesTheMachinesFacts() throws {
        let outcome = daemon.run(["/bin/true"], limits: LimitRequest(memoryBytes: 200 << 20))
        let machine = try XCTUnwrap(outcome.record?.machine, outcome.error ?? "")
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?.split(separator: ":", maxSplits: 1).last?
            .trimmingCharacters(in: .whitespaces)
        XCTAssertEqual(machine.cpuModel, model ?? "")
        XCTAssertFalse(machine.cpuModel.isEmpty)
        XCTAssertEqual(machine.hostCPUs, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        XCTAssertEqual(machine.cpus, min(outcome.record?.limits["cpus"] ?? 0, Double(machine.hostCPUs)))
        XCTAssertEqual(machine.memoryLimitBytes, 200 << 20)
        XCTAssertEqual(machine.kernel, outcome.record?.kernel)
        XCTAssertEqual(machine.gpus, [])
        // As the daemon stored it, and as `glovebox show` prints it.
        XCTAssertEqual(try DaemonQueries.show(socketPath: daemon.socket, runID: try XCTUnwrap(outcome.record?.id)).machine, machine)
        let shown = try daemon.cli(["show", "\(try XCTUnwrap(outcome.record?.id))"])
        XCTAssertTrue(shown.stdout.contains("memory limit   200 MiB"), shown.stdout)
    }
}
