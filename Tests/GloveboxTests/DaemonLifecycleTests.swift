import Records
@testable import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The daemon itself: what it refuses to start without, how it stops, and what it finds after a crash.
final class DaemonLifecycleTests: FixturesTestCase {
    func testItRefusesToStartWithoutTheCapabilitiesItNeeds() throws {
        let f = try fixture()
        let result = try DaemonFixture.run(["/usr/sbin/capsh", "--drop=cap_sys_admin", "--", "-c",
                                            "exec \(DaemonFixture.gloveboxd) --socket \(f.scratch)/other.sock --state-dir \(f.scratch)/other --policy-dir \(f.policyDir)"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("CAP_SYS_ADMIN"), result.stderr)
    }

    func testItRefusesToRunAsAnOrdinaryUser() throws {
        let result = try DaemonFixture.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", DaemonFixture.gloveboxd,
                                            "--socket", "/var/tmp/x.sock", "--state-dir", "/var/tmp/x", "--policy-dir", "/var/tmp/x"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("must run as root"), result.stderr)
    }

    func testASecondDaemonOnTheSameStateDirectoryIsRefused() throws {
        let f = try fixture()
        let result = try DaemonFixture.run([DaemonFixture.gloveboxd, "--socket", f.scratch + "/second.sock", "--state-dir", f.stateDir, "--policy-dir", f.policyDir])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("another gloveboxd is using the state directory"), result.stderr)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "the first one keeps serving")
    }

    func testSIGTERMCancelsRunsInFlightRecordsThemAndRemovesItsCgroups() throws {
        let f = try fixture()
        let (client, tag) = try startSleeper(f)
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        XCTAssertEqual(f.stopDaemon(signal: SIGTERM), 0, f.log)
        XCTAssertEqual(HostState.processes(containing: "^/bin/sleep \(tag)"), [])
        let record = try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first
        XCTAssertEqual(record?.status, .cancelled)
        XCTAssertEqual(record?.message, "the daemon is shutting down")
        XCTAssertEqual(HostState.gloveboxCgroups(of: f), [])
        XCTAssertEqual(access(f.socket, F_OK), -1, "the socket is removed")
    }

    func testAfterASIGKILLedDaemonNothingRunsAndTheRunIsRecordedLost() throws {
        let f = try fixture()
        let (client, tag) = try startSleeper(f)
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        f.stopDaemon(signal: SIGKILL)
        // The run's init dies with the daemon (parent-death signal), and with it the whole pid namespace.
        let gone = Date().addingTimeInterval(5)
        while !HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty && Date() < gone { usleep(20_000) }
        XCTAssertEqual(HostState.processes(containing: "^/bin/sleep \(tag)"), [])
        XCTAssertEqual(HostState.gloveboxMounts(), [], "the daemon's mounts die with its mount namespace")
        try f.start()
        let record = try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first
        XCTAssertEqual(record?.status, .supervisorLost)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }
}

extension DaemonLifecycleTests {
    /// On cgroup v1 the daemon keeps two runs' worth of cgroups made ahead of need (`spare-N`). A run takes
    /// one, renamed to its own name, with its own limits written; a new spare replaces it. At a stop
    /// nothing is left (the fixture's tearDown checks), and a restart removes a killed daemon's spares.
    func testRunsTakeCgroupsMadeAheadOfNeedWithTheirOwnLimits() throws {
        guard !CgroupHierarchy.isCgroup2("/sys/fs/cgroup") else { throw XCTSkip("cgroups are made ahead of need on cgroup v1 only") }
        let f = try fixture(config: "[sandbox]\nkeep_idle = \"2s\"\n")
        // A spare has a cgroup in the memory hierarchy (as in each v1 one a run joins), none in the unified one.
        let spares = { try f.cgroupDirectories("spare-*").filter { $0.contains("/memory/") }.map { String($0.split(separator: "/").last!) } }
        XCTAssertTrue(try eventually { try spares() == ["spare-0", "spare-1"] }, "two spares: \((try? spares()) ?? [])")
        XCTAssertEqual(try f.cgroupDirectories("spare-*").filter { $0.contains("/unified/") }, [])

        let client = try spawnClient(f, ["run", "--memory", "200M", "--pids", "77", "--", "/bin/sleep", "3"])
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        XCTAssertTrue(try eventually { try f.cgroupDirectories("run-*").contains { $0.contains("/unified/") } })
        let run = try f.cgroupDirectories("run-*")
        let memory = try XCTUnwrap(run.first { $0.contains("/memory/") }, "\(run)")
        let pids = try XCTUnwrap(run.first { $0.contains("/pids/") }, "\(run)")
        XCTAssertEqual(try String(contentsOfFile: memory + "/memory.limit_in_bytes", encoding: .utf8), "\(200 << 20)\n")
        XCTAssertEqual(try String(contentsOfFile: pids + "/pids.max", encoding: .utf8), "77\n")
        XCTAssertTrue(try eventually { try spares() == ["spare-1", "spare-2"] }, "the first spare became the run's: \((try? spares()) ?? [])")

        var status: Int32 = 0
        waitpid(client, &status, 0)
        XCTAssertEqual((status >> 8) & 0xff, 0)
        XCTAssertTrue(try eventually { try f.cgroupDirectories("run-*").isEmpty })
        // The run's end made a warm sandbox for the next run (WarmSandboxTests), in a spare with a
        // unified cgroup; once it is let go (keep_idle later) two spares are left, as at the start.
        let unifiedSpares = { try f.cgroupDirectories("spare-*").filter { $0.contains("/unified/") } }
        XCTAssertTrue(try eventually { try spares().count == 2 && unifiedSpares().isEmpty }, "\((try? spares()) ?? [])")
        let left = try spares()

        f.stopDaemon(signal: SIGKILL)
        XCTAssertEqual(try spares(), left, "a killed daemon leaves its spares")
        try f.start()
        XCTAssertTrue(try eventually { try spares() == ["spare-0", "spare-1"] }, "the old spares removed, two new ones: \((try? spares()) ?? [])")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }
}

extension DaemonLifecycleTests {
    /// A run of a killed daemon in a sandbox made ahead has its v1 cgroups under its own name (`run-N`) and
    /// its unified one, through which it is killed, under the spare's (`spare-M`). A restart kills every
    /// leftover before it waits for any: waiting on `run-N` first would wait out its 5 s for a process only
    /// the kill through `spare-M` ends, and leave `run-N` behind. (A run's processes die with the daemon, by
    /// its init's parent-death signal; the test puts one there by hand.)
    func testARestartKillsEveryLeftoverBeforeWaitingForAny() throws {
        guard !CgroupHierarchy.isCgroup2("/sys/fs/cgroup"), CgroupHierarchy.isCgroup2("/sys/fs/cgroup/unified") else {
            throw XCTSkip("a run's cgroups have two names only on cgroup v1 with a unified mount")
        }
        let f = try fixture()
        f.stopDaemon(signal: SIGKILL)
        let instances = try DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", f.cgroupInstance])
            .stdout.split(separator: "\n").map(String.init)
        let unified = try XCTUnwrap(instances.first { $0.hasPrefix("/sys/fs/cgroup/unified/") })
        let v1 = instances.filter { !$0.hasPrefix("/sys/fs/cgroup/unified/") && !$0.hasPrefix("/sys/fs/cgroup/freezer/") }
        XCTAssertEqual(v1.count, 5, "\(instances)")
        let leftovers = v1.map { $0 + "/run-900" } + [unified + "/spare-900"]
        for dir in leftovers { XCTAssertEqual(mkdir(dir, 0o755), 0, dir) }
        let survivor = try DaemonFixture.spawn(["/bin/sleep", "1000"], stdout: "/dev/null", stderr: "/dev/null")
        var status: Int32 = 0
        defer {
            if kill(survivor, SIGKILL) == 0 { waitpid(survivor, nil, 0) }
            for dir in leftovers { rmdir(dir) }
        }
        for dir in leftovers { try DaemonFixture.write(dir + "/cgroup.procs", "\(survivor)") }
        try f.start()
        XCTAssertTrue(eventually(5) { waitpid(survivor, &status, WNOHANG) == survivor }, "the leftover's process outlived the restart")
        XCTAssertEqual(status & 0x7f, SIGKILL)
        XCTAssertEqual(try f.cgroupDirectories("*-900"), [], "leftover cgroups not removed")
    }
}
