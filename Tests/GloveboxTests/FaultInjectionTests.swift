import Digests
import GloveboxSystem
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The daemon killed at chosen points of a run's life, a locked database, a cgroup that will not go
/// away: afterwards no process escaped, no record is lost or corrupt, nothing is leaked.
final class FaultInjectionTests: FixturesTestCase {

    func testTheDaemonKilledAtAnyPointOfARunLeavesNothingAndLosesNoRecord() throws {
        for point in FaultInjection.Point.allCases {
            let f = try DaemonFixture()
            defer {
                f.stop()
                XCTAssertEqual(HostState.gloveboxCgroups(of: f), [], "\(point.rawValue): cgroups left behind")
            }
            let loopsBefore = try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout
            try f.restart(environment: ["GLOVEBOX_FAULT": point.rawValue])
            let workdir = f.scratch + "/wd"
            mkdir(workdir, 0o755)
            let tag = "\(Int.random(in: 100_000...999_999))"
            let outcome = f.run(["/bin/sh", "-c", "mkdir out; echo \(tag) > out/f; sleep 0.3 # \(tag)"], workdir: workdir, outputs: ["out"])
            XCTAssertNil(outcome.record, "\(point.rawValue): the client cannot have a record from a daemon that died")
            var status: Int32 = 0
            XCTAssertEqual(waitpid(f.pid, &status, 0), f.pid)
            XCTAssertEqual(status & 0x7f, SIGKILL, "\(point.rawValue): the daemon died by the injected SIGKILL\n\(f.log.suffix(1500))")
            let deadline = Date().addingTimeInterval(5)
            while !HostState.processes(containing: tag).isEmpty && Date() < deadline { usleep(20_000) }
            XCTAssertEqual(HostState.processes(containing: tag), [], "\(point.rawValue): a process of the run escaped")
            XCTAssertEqual(HostState.gloveboxMounts(), [], "\(point.rawValue): mounts")
            let loopDeadline = Date().addingTimeInterval(5)
            while try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout != loopsBefore && Date() < loopDeadline { usleep(20_000) }
            XCTAssertEqual(try DaemonFixture.run(["/sbin/losetup", "-a"]).stdout, loopsBefore, "\(point.rawValue): loop devices")

            f.daemonEnvironment = [:]
            try f.start()
            let records = try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 5)
            let record = try XCTUnwrap(records.first { $0.argv.joined(separator: " ").contains(tag) }, "\(point.rawValue): the run's record is lost")
            // The record is written before the outputs go out: a crash there keeps the finished record.
            XCTAssertEqual(record.status, point == .duringOutputs ? .ok : .supervisorLost, "\(point.rawValue)")
            XCTAssertEqual(try DaemonFixture.run(["/usr/bin/sqlite3", f.stateDir + "/glovebox.db", "PRAGMA integrity_check"]).stdout, "ok\n")
            XCTAssertEqual(try f.cli(["audit", "--verify"]).status, 0, "\(point.rawValue): audit chain")
            XCTAssertEqual(f.runDirectories, [], "\(point.rawValue): run directories")
            XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "\(point.rawValue): serving again")
        }
    }

    func testALockedDatabaseRefusesRunsClearlyAndTheDaemonRecovers() throws {
        let f = try DaemonFixture()
        defer { f.stop() }
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        // Another process holds the database's write lock for 8 s (longer than the 5 s busy timeout).
        let script = "import sqlite3, time\nc = sqlite3.connect('\(f.stateDir)/glovebox.db', isolation_level=None)\nc.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(8)"
        let holder = try DaemonFixture.spawn(["/usr/bin/python3", "-c", script], stdout: f.scratch + "/holder.out", stderr: f.scratch + "/holder.err")
        defer { kill(holder, SIGKILL); waitpid(holder, nil, 0) }
        let locked0 = Date().addingTimeInterval(10)
        while ((try? String(contentsOfFile: f.scratch + "/holder.out", encoding: .utf8)) ?? "").isEmpty && Date() < locked0 { usleep(20_000) }
        let locked = f.run(["/bin/true"])
        XCTAssertNil(locked.record)
        XCTAssertTrue(locked.error?.contains("locked") ?? false, locked.error ?? "")
        var status: Int32 = 0
        waitpid(holder, &status, 0)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "served again once the lock is gone")
    }
}

extension FaultInjectionTests {
    func testACgroupThatWillNotGoAwayIsReportedAndRemovedAtTheNextStart() throws {
        let f = try fixture()  // stopped after the test, and checked to have left no cgroup
        let tag = "\(Int.random(in: 100_000...999_999))"
        let client = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--", "/bin/sh", "-c", "sleep 1 # \(tag)"],
                                             stdout: "/dev/null", stderr: "/dev/null", environment: ["GLOVEBOX_SOCKET": f.socket])
        let deadline = Date().addingTimeInterval(10)
        var runDirs: [String] = []
        while runDirs.isEmpty && Date() < deadline {
            runDirs = try f.cgroupDirectories("run-*")
            usleep(20_000)
        }
        XCTAssertFalse(runDirs.isEmpty)
        // A child cgroup in every hierarchy of the run: rmdir of the run's cgroup then fails (EBUSY).
        for dir in runDirs { mkdir(dir + "/stuck", 0o755) }
        var status: Int32 = 0
        waitpid(client, &status, 0)
        XCTAssertEqual((status >> 8) & 0xff, 0, "the run itself ends normally")
        let record = try XCTUnwrap(try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first)
        XCTAssertEqual(record.status, .ok, "its record is complete")
        // The cgroups are removed right after the client has the record: wait for that attempt.
        let logged = Date().addingTimeInterval(5)
        while !f.log.contains("cannot remove run cgroup") && Date() < logged { usleep(20_000) }
        XCTAssertTrue(f.log.contains("cannot remove run cgroup"), f.log.suffix(2000).description)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "the daemon keeps serving")
        for dir in runDirs { rmdir(dir + "/stuck") }
        f.stopDaemon()
        try f.start()
        XCTAssertEqual(try f.cgroupDirectories("run-*"), [], "the leftover is removed at the next start")
    }
}

extension FaultInjectionTests {
    /// The thread that launches a run sleeps in clone3 until the setup child has executed init; a setup that
    /// hangs (here on purpose, before building the root) is killed by the launch watchdog when the run's
    /// time limit passes, and the run is recorded as timed out. Without the watchdog the client would wait
    /// for ever: it is given 20 s here, then the test fails.
    func testASetupThatHangsIsKilledWhenTheRunsTimeLimitPasses() throws {
        let f = try fixture()  // stopped after the test, and checked to have left no cgroup
        try f.restart(environment: ["GLOVEBOX_FAULT": "stall-setup"])
        let tag = "\(Int.random(in: 100_000...999_999))"
        let started = Date()
        let client = try DaemonFixture.spawn([DaemonFixture.glovebox, "run", "--timeout", "1s", "--", "/bin/sh", "-c", "true # \(tag)"],
                                             stdout: f.scratch + "/client.out", stderr: f.scratch + "/client.err",
                                             environment: ["GLOVEBOX_SOCKET": f.socket])
        var status: Int32 = 0
        var done = false
        while Date().timeIntervalSince(started) < 20 {
            if waitpid(client, &status, WNOHANG) == client { done = true; break }
            usleep(20_000)
        }
        guard done else {
            kill(client, SIGKILL)
            waitpid(client, nil, 0)
            XCTFail("the run was not ended at its time limit\n\(f.log.suffix(1500))")
            // Its thread sleeps in clone3 for ever, and SIGTERM would wait for it: SIGKILL the daemon (the
            // setup child dies with it, by its parent-death signal); a restart removes the run's leftovers.
            try f.restart(signal: SIGKILL)
            return
        }
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertLessThan(elapsed, 10, "ended at its 1 s limit, not at some later cleanup")
        let err = (try? String(contentsOfFile: f.scratch + "/client.err", encoding: .utf8)) ?? ""
        XCTAssertTrue(err.contains("had not started when the run's time limit passed"), err)
        XCTAssertNotEqual((status >> 8) & 0xff, 0)

        let record = try XCTUnwrap(try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first)
        XCTAssertEqual(record.status, .timeout)
        XCTAssertEqual(record.argv.last, "true # \(tag)")
        // The setup child stalled inside the run's cgroups (it joins them first): their removal (checked at
        // the end) shows it is gone.
        let cleaned = Date().addingTimeInterval(5)
        while !f.runDirectories.isEmpty && Date() < cleaned { usleep(20_000) }
        XCTAssertEqual(f.runDirectories, [])
        XCTAssertEqual(HostState.gloveboxMounts(), [])

        try f.restart()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }
}

extension FaultInjectionTests {
    /// A setup that fails once the descriptors are in init's places (here, executing glovebox-init)
    /// still reports the step and errno on the report pipe at its new number: the run is recorded as an
    /// internal error naming them, and nothing is left.
    func testASetupFailureAfterTheDescriptorsMovedIsReportedByName() throws {
        let f = try fixture()  // stopped after the test, and checked to have left no cgroup
        try f.restart(environment: ["GLOVEBOX_FAULT": "fail-init-exec"])
        let outcome = f.run(["/bin/true"])
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .internalError)
        XCTAssertEqual(record.message, "sandbox setup failed at 'execute glovebox-init': \(String(cString: strerror(EBADF)))")
        let cleaned = Date().addingTimeInterval(5)
        while !f.runDirectories.isEmpty && Date() < cleaned { usleep(20_000) }
        XCTAssertEqual(f.runDirectories, [])
        XCTAssertEqual(HostState.gloveboxMounts(), [])
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .internalError, "the daemon keeps serving")
    }
}

extension FaultInjectionTests {
    /// With fs.suid_dumpable at 1 a run's setup child, which shares the daemon's memory, could be attached
    /// to by the run's uid while it changes to it: the daemon refuses to start, and refuses runs if the
    /// setting changes while it serves. The host's setting is put back, whatever happens.
    func testFsSuidDumpableAtOneStopsTheDaemonAndEveryLaunch() throws {
        let path = "/proc/sys/fs/suid_dumpable"
        let original = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        guard original != "1" else { throw XCTSkip("fs.suid_dumpable is already 1 on this host") }
        defer { try? FileIO.write(path, original) }
        let f = try fixture()  // stopped after the test, and checked to have left no cgroup
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)

        try FileIO.write(path, "1")
        let refused = f.run(["/bin/true"])
        try FileIO.write(path, original)
        XCTAssertEqual(refused.record?.status, .internalError, String(f.log.suffix(1500)))
        XCTAssertTrue(refused.record?.message.contains("fs.suid_dumpable is 1") ?? false, "\(String(describing: refused.record?.message))")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "runs go on once it is back")

        try FileIO.write(path, "1")
        // Under timeout(1): a daemon that started anyway is stopped (and the test fails) instead of hanging it.
        let started = try DaemonFixture.run(["/usr/bin/timeout", "10", DaemonFixture.gloveboxd, "--socket", f.scratch + "/second.sock", "--state-dir", f.scratch + "/second",
                                             "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        let checked = try DaemonFixture.run([DaemonFixture.gloveboxd, "--check-config", "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        try FileIO.write(path, original)
        XCTAssertEqual(started.status, 1)
        XCTAssertTrue(started.stderr.contains("fs.suid_dumpable is 1"), started.stderr)
        XCTAssertEqual(access(f.scratch + "/second.sock", F_OK), -1, "it never listened")
        let second = "glovebox-" + String(sha256Hex(Array((f.scratch + "/second").utf8)).prefix(12))
        let left = try DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", second]).stdout
        XCTAssertEqual(left, "", "the refused daemon left cgroups")
        XCTAssertEqual(checked.status, 1)
        XCTAssertTrue(checked.stdout.contains("fs.suid_dumpable is 1"), checked.stdout)
    }
}
