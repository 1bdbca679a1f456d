import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// gloveboxd as a shared service: the audit log, caps and the queue, detached runs, the configuration
/// file, and shutdown.
final class ServiceTests: FixturesTestCase {
    func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    // MARK: - Audit

    func testEveryDecisionIsAuditedAndAnEditedRowIsFound() throws {
        let f = try fixture()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        XCTAssertNotNil(f.run(["/bin/true"], limits: .init(memoryBytes: 1 << 40)).error)
        let listed = try f.cli(["audit"])
        for kind in ["daemon-start", "run-accepted", "run-finished", "run-refused"] {
            XCTAssertTrue(listed.stdout.contains(kind), "\(kind) missing:\n\(listed.stdout)")
        }
        XCTAssertEqual(try f.cli(["audit", "--verify"]).stdout, "the audit log is intact (4 events)\n")
        let nobody = try f.cli(["audit", "--verify"], asUser: 65534)
        XCTAssertEqual(nobody.status, 125)
        XCTAssertEqual(try f.cli(["audit"], asUser: 65534).stdout, "", "others' events are not shown")

        f.stopDaemon()
        let db = f.stateDir + "/glovebox.db"
        let edit = try DaemonFixture.run(["/usr/bin/sqlite3", db, "UPDATE events SET detail = 'nothing to see' WHERE seq = 3"])
        XCTAssertNotEqual(edit.status, 0, "the table refuses edits")
        let forced = try DaemonFixture.run(["/usr/bin/sqlite3", db,
            "DROP TRIGGER IF EXISTS events_no_update; SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"])
        for trigger in forced.stdout.split(separator: "\n") {
            _ = try DaemonFixture.run(["/usr/bin/sqlite3", db, "DROP TRIGGER \(trigger)"])
        }
        XCTAssertEqual(try DaemonFixture.run(["/usr/bin/sqlite3", db, "UPDATE events SET detail = 'nothing to see' WHERE seq = 3"]).status, 0)
        try f.start()
        let verify = try f.cli(["audit", "--verify"])
        XCTAssertEqual(verify.status, 1)
        XCTAssertTrue(verify.stdout.contains("row 3"), verify.stdout)
    }

    // MARK: - Caps and the queue

    static let oneAtATime = DaemonTestCase.policy() + "\n\n[caps]\nuser_concurrent_runs = 1\n"

    func testARequestOverACapWaitsInTheQueueAndRunsAfterwards() throws {
        let f = try fixture(policies: ["one": Self.oneAtATime])
        let first = try spawnClient(f, ["run", "--template", "one", "--", "/bin/sleep", "1"])
        XCTAssertTrue(eventually { (try? f.cli(["ps"]).stdout.contains("/bin/sleep 1")) ?? false })
        let second = f.scratch + "/second.err"
        let queued = try spawnClient(f, ["run", "--template", "one", "--", "/bin/true"], stderr: second)
        XCTAssertEqual(wait(first), 0)
        XCTAssertEqual(wait(queued), 0)
        let told = try String(contentsOfFile: second, encoding: .utf8)
        XCTAssertTrue(told.contains("waiting in the queue, place 1: at the cap of 1 concurrent runs of template 'one' by root"), told)
    }

    func testARequestOverACapIsRefusedWhenThePolicySaysSo() throws {
        let f = try fixture(policies: ["one": Self.oneAtATime + "over_cap = \"refuse\"\n"])
        let first = try spawnClient(f, ["run", "--template", "one", "--", "/bin/sleep", "1"])
        defer { _ = wait(first) }
        XCTAssertTrue(eventually { (try? f.cli(["ps"]).stdout.contains("/bin/sleep 1")) ?? false })
        let refused = try f.cli(["run", "--template", "one", "--", "/bin/true"])
        XCTAssertEqual(refused.status, 125)
        XCTAssertTrue(refused.stderr.contains("over a cap: at the cap of 1 concurrent runs of template 'one' by root"), refused.stderr)
    }

    func testAClientMayGiveUpWaitingInTheQueue() throws {
        let f = try fixture(policies: ["one": Self.oneAtATime])
        let first = try spawnClient(f, ["run", "--template", "one", "--", "/bin/sleep", "3"])
        defer { kill(first, SIGINT); _ = wait(first) }
        XCTAssertTrue(eventually { (try? f.cli(["ps"]).stdout.contains("/bin/sleep 3")) ?? false })
        let err = f.scratch + "/queued.err"
        let queued = try spawnClient(f, ["run", "--template", "one", "--", "/bin/true"], stderr: err)
        XCTAssertTrue(eventually { ((try? String(contentsOfFile: err, encoding: .utf8)) ?? "").contains("waiting in the queue") })
        kill(queued, SIGINT)
        XCTAssertEqual(wait(queued), 130)
        let record = try RecordStore(path: f.stateDir + "/glovebox.db").runs(status: .cancelled, limit: 5).first
        XCTAssertEqual(record?.message, "the client gave up waiting in the queue")
    }

    func testThePolicyCanCancelARunWhoseClientGoesAway() throws {
        let f = try fixture(policies: ["strict": DaemonTestCase.policy() + "\n\n[lifetime]\non_disconnect = \"cancel\"\n"])
        let tag = "\(Int.random(in: 100_000...999_999))"
        let client = try spawnClient(f, ["run", "--template", "strict", "--", "/bin/sleep", tag])
        XCTAssertTrue(eventually { !HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty })
        kill(client, SIGKILL)
        _ = wait(client)
        XCTAssertTrue(eventually { HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty })
        XCTAssertTrue(try eventually { try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first?.status == .cancelled })
        XCTAssertEqual(try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1).first?.message, "the client disconnected")
    }

    // MARK: - Configuration

    func testTheConfigurationFileSetsCapsLogsAndTheAdminGroup() throws {
        let config = """
        [caps]
        user_concurrent_runs = 1
        over_cap = "refuse"

        [logs]
        max_bytes = "64KiB"

        [access]
        admin_group = "adm"
        """
        let f = try fixture(config: config)
        let big = f.run(["/usr/bin/python3", "-c", "import sys; sys.stdout.write('x' * 200000)"])
        XCTAssertEqual(big.stdout.count, 200_000, "the live stream is complete")
        let id = try XCTUnwrap(big.record?.id)
        let kept = try f.cli(["logs", "\(id)"])
        XCTAssertLessThan(kept.stdout.count, 70_000)
        XCTAssertTrue(kept.stderr.contains("was not kept in the log"), kept.stderr)
        // A member of the admin group (here by its primary gid) sees root's runs; others do not.
        XCTAssertEqual(try f.cli(["show", "\(id)"], asUser: 65534).status, 125)
        let admin = try DaemonFixture.run(["/usr/bin/setpriv", "--reuid=65534", "--regid=4", "--clear-groups", DaemonFixture.glovebox, "show", "\(id)"],
                                          environment: ["GLOVEBOX_SOCKET": f.socket])
        XCTAssertEqual(admin.status, 0, admin.stderr)
    }

    func testCheckConfigReportsBadPoliciesAndBadConfigurationWithTheirLines() throws {
        let f = try fixture(policies: ["bad": "[limits]\ntimeout = \"1m\"\nmemory = -1\n"])
        let result = try DaemonFixture.run([DaemonFixture.gloveboxd, "--check-config", "--policy-dir", f.policyDir])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stdout.contains("bad.toml:3"), result.stdout)
        XCTAssertTrue(result.stdout.contains("default.toml: ok"), result.stdout)
        try DaemonFixture.write(f.scratch + "/broken.toml", "[caps]\nconcurrent_runs = 0\n")
        let config = try DaemonFixture.run([DaemonFixture.gloveboxd, "--check-config", "--config", f.scratch + "/broken.toml"])
        XCTAssertEqual(config.status, 1)
        XCTAssertTrue(config.stdout.contains("broken.toml:2"), config.stdout)
    }

    func testShutdownCanLetRunsInFlightFinish() throws {
        let f = try fixture(config: "[shutdown]\nruns = \"wait\"\ngrace = \"20s\"\n")
        let record = f.scratch + "/record.json"
        let client = try spawnClient(f, ["run", "--record", record, "--", "/bin/sleep", "1"])
        XCTAssertTrue(eventually { (try? f.cli(["ps"]).stdout.contains("/bin/sleep 1")) ?? false })
        XCTAssertEqual(f.stopDaemon(signal: SIGTERM), 0)
        XCTAssertEqual(wait(client), 0)
        let finished = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: record)))
        XCTAssertEqual(finished.status, .ok)
    }
}
