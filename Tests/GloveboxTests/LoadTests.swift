import GloveboxSystem
import Records
import Synchronization
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Many clients at once, and a full state disk: every run recorded, nothing lost, the daemon serving.
final class LoadTests: XCTestCase {
    override func setUp() { signal(SIGPIPE, SIG_IGN) }

    func testTwentyClientsFiveRunsEachAllComeBackRecorded() throws {
        let f = try DaemonFixture(config: "[caps]\nuser_concurrent_runs = 8\nuser_runs_per_hour = 10000\n")
        defer {
            f.stop()
            XCTAssertEqual(HostState.gloveboxCgroups(of: f), [])
        }
        let results = Mutex<[(client: Int, run: Int, id: Int64?, status: RunStatus?, out: String)]>([])
        let done = DispatchSemaphore(value: 0)
        for client in 0..<20 {
            try spawnDetachedThread {
                for run in 0..<5 {
                    let o = f.run(["/bin/sh", "-c", "echo \(client)-\(run)"])
                    results.withLock { $0.append((client, run, o.record?.id, o.record?.status, o.stdout)) }
                }
                done.signal()
            }
        }
        for _ in 0..<20 { XCTAssertEqual(done.wait(timeout: .now() + 300), .success) }
        let all = results.withLock { $0 }
        XCTAssertEqual(all.count, 100)
        XCTAssertEqual(all.filter { $0.status == .ok }.count, 100, "\(all.filter { $0.status != .ok })")
        XCTAssertTrue(all.allSatisfy { $0.out == "\($0.client)-\($0.run)\n" }, "each client got its own output")
        XCTAssertEqual(Set(all.compactMap(\.id)).count, 100)
        let records = try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: 1000)
        XCTAssertEqual(records.filter { $0.status == .ok }.count, 100)
        XCTAssertTrue(records.allSatisfy { $0.endedAt != nil && $0.wallSeconds != nil })
        XCTAssertEqual(try f.cli(["audit", "--verify"]).stdout, "the audit log is intact (201 events)\n")
    }

    func testAFullStateDiskIsReportedAndTheDaemonRecovers() throws {
        var template = Array("/var/tmp/glovebox-full.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("mkdtemp") }
        let base = String(nulTerminated: template)
        let state = base + "/state"
        mkdir(state, 0o700)
        XCTAssertEqual(try DaemonFixture.run(["/bin/mount", "-t", "tmpfs", "-o", "size=4m", "glovebox-test-full", state]).status, 0)
        defer {
            _ = try? DaemonFixture.run(["/bin/umount", "-l", state])
            _ = try? DaemonFixture.run(["/bin/rm", "-rf", base])
        }
        // With no free space kept, so that the disk itself fills (state_min_free would refuse runs before).
        let f = try DaemonFixture(config: "[paths]\nstate_min_free = \"0\"\n", stateDirectory: state)
        defer { f.stop() }
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        // Fill the state disk.
        _ = try DaemonFixture.run(["/bin/dd", "if=/dev/zero", "of=\(state)/filler", "bs=64k", "count=1000"])
        let outcome = f.run(["/bin/true"])
        XCTAssertNil(outcome.record)
        XCTAssertTrue(outcome.error?.contains("disk is full") ?? false, outcome.error ?? "")
        XCTAssertTrue(f.log.contains("disk full") || f.log.contains("disk is full"), f.log.suffix(2000).description)
        unlink(state + "/filler")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "with space again, runs are recorded again")
        XCTAssertEqual(try f.cli(["audit", "--verify"]).status, 0)
    }
}
