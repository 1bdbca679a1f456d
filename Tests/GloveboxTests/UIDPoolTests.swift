import GloveboxSystem
import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Sandbox uids: handed out least recently used first, and kept out of use while processes of their last
/// run are left.
final class UIDPoolTests: FixturesTestCase {
    static let threeUIDs = "[sandbox]\nuid_count = 3\n\n[caps]\nconcurrent_runs = 3\nuser_concurrent_runs = 3\n"

    func uid(of outcome: DaemonFixture.Outcome) -> UInt32? { UInt32(outcome.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) }

    func testUidsAreHandedOutLeastRecentlyUsedFirst() throws {
        let f = try fixture(config: Self.threeUIDs)
        let uids = (0..<6).map { _ in uid(of: f.run(["/usr/bin/id", "-u"])) }
        let base: UInt32 = 1_900_000_000
        XCTAssertEqual(uids, [base, base + 1, base + 2, base, base + 1, base + 2])
    }

    /// A process of the run is frozen (a v1 freezer cgroup of the test's own): SIGKILL stays pending, as for
    /// a process stuck in the kernel, and the run's init cannot end before it. The run is ended and
    /// recorded after SandboxRun.killGrace; its uid comes back only once the process is thawed and gone.
    func testAStuckRunsUidIsKeptOutOfUseUntilItsProcessesAreGone() throws {
        let freezerRoot = "/sys/fs/cgroup/freezer"
        guard FileManager.default.fileExists(atPath: freezerRoot + "/cgroup.procs"),
              FileManager.default.fileExists(atPath: "/sys/fs/cgroup/unified/cgroup.procs") else {
            throw XCTSkip("needs a v1 freezer hierarchy beside the unified one (the build machines' hybrid layout)")
        }
        let f = try fixture(config: Self.threeUIDs)
        let freezer = freezerRoot + "/glovebox-test-stuck-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(freezer, 0o755), 0)
        defer {
            try? FileIO.write(freezer + "/freezer.state", "THAWED")
            _ = eventually { rmdir(freezer) == 0 }
        }

        let client = try spawnClient(f, ["run", "--", "/bin/sh", "-c", "/bin/sleep 300 & wait"])
        defer { kill(client, SIGKILL); var status: Int32 = 0; waitpid(client, &status, 0) }
        var sleeper: pid_t = 0
        XCTAssertTrue(try eventually {
            let procs = try f.cgroupDirectories("run-*").filter { $0.hasPrefix("/sys/fs/cgroup/pids/") }.first.map { $0 + "/cgroup.procs" }
            let pids = procs.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) }?.split(separator: "\n").compactMap { pid_t($0) } ?? []
            sleeper = pids.first { (try? String(contentsOfFile: "/proc/\($0)/comm", encoding: .utf8)) == "sleep\n" } ?? 0
            return sleeper > 0
        })
        try FileIO.write(freezer + "/cgroup.procs", String(sleeper))
        try FileIO.write(freezer + "/freezer.state", "FROZEN")
        XCTAssertTrue(eventually { (try? FileIO.read(freezer + "/freezer.state"))?.hasPrefix("FROZEN") ?? false })

        let stuckUID: UInt32 = 1_900_000_000
        XCTAssertEqual(try f.cli(["kill", "1"]).status, 0)
        XCTAssertTrue(eventually(SandboxRun.killGrace + 10) { (try? f.cli(["show", "1"]).stdout.contains("cancelled")) ?? false })
        let shown = try f.cli(["show", "1", "--json"]).stdout
        XCTAssertTrue(shown.contains("did not die"), shown)
        XCTAssertTrue(shown.contains("\"sandbox_uid\":\(stuckUID)") || shown.contains("\"sandbox_uid\" : \(stuckUID)"), shown)

        // While the process is left, no run gets its uid. (A run's uid is released just after its client
        // hears the end, so a run right behind it may get the third one.)
        for _ in 0..<4 {
            let o = f.run(["/usr/bin/id", "-u"])
            XCTAssertTrue([stuckUID + 1, stuckUID + 2].contains(uid(of: o) ?? 0), "\(o)")
        }
        XCTAssertFalse(try f.cgroupDirectories("run-1").isEmpty, "the stuck run's cgroups are kept")

        try FileIO.write(freezer + "/freezer.state", "THAWED")
        XCTAssertTrue(eventually { kill(sleeper, 0) != 0 && errno == ESRCH })
        let after = (0..<4).map { _ in uid(of: f.run(["/usr/bin/id", "-u"])) }
        XCTAssertTrue(after.contains(stuckUID), "the uid is back in use once its run is gone: \(after)")
        XCTAssertTrue(try f.cgroupDirectories("run-1").isEmpty, "and the stuck run's cgroups are removed")
    }
}
