import Digests
import GloveboxSystem
import Records
@testable import Supervisor
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// No local user can fill the state disk: logs within their retention and quotas, runs refused when the
/// state filesystem is nearly full, audit rows of a bounded size, refusals recorded at a bounded rate.
final class StateDiskTests: FixturesTestCase {
    func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Bytes of the regular files under `dir`, and of each run's log by the user the audit log names.
    func bytes(under dir: String) -> UInt64 {
        (FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []).reduce(0) { sum, name in
            var st = stat()
            return lstat(dir + "/" + name, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG ? sum + UInt64(st.st_size) : sum
        }
    }

    func audit(_ f: DaemonFixture) throws -> [AuditEvent] {
        try RecordStore(path: f.stateDir + "/glovebox.db").auditEvents()
    }

    /// 30 runs of 80 MB of output each, by two users: the state directory stays within the quotas.
    func testThirtyRunsOfEightyMegabytesStayWithinTheLogQuotas() throws {
        let config = "[logs]\nmax_bytes = \"100MiB\"\nuser_bytes = \"200MiB\"\ntotal_bytes = \"300MiB\"\n"
        let f = try fixture(config: config)
        let quota: UInt64 = 300 << 20
        var peak: UInt64 = 0
        for i in 0..<30 {
            var argv = [DaemonFixture.glovebox, "run", "--", "/bin/sh", "-c", "head -c 80000000 /dev/zero"]
            if i % 2 == 1 { argv = ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] + argv }
            let client = try DaemonFixture.spawn(argv, stdout: "/dev/null", stderr: f.scratch + "/client.err", environment: ["GLOVEBOX_SOCKET": f.socket])
            XCTAssertEqual(wait(client), 0, (try? String(contentsOfFile: f.scratch + "/client.err", encoding: .utf8)) ?? "")
            peak = max(peak, bytes(under: f.stateDir + "/logs"))
        }
        // While one run writes its log the others are within the quota: at most one run's cap above it.
        XCTAssertLessThanOrEqual(peak, quota + (100 << 20))
        // The last run's log is pruned just after its client hears the end.
        XCTAssertTrue(eventually { bytes(under: f.stateDir + "/logs") <= quota }, "\(bytes(under: f.stateDir + "/logs"))")
        XCTAssertLessThanOrEqual(bytes(under: f.stateDir), quota + (16 << 20), "the state directory: logs, database and nothing else of size")
        let pruned = try audit(f).filter { $0.kind == .logPruned }
        XCTAssertGreaterThanOrEqual(pruned.count, 26, "at most four 80 MB logs fit")
        for uid: UInt32 in [0, 65534] {
            let runs = pruned.filter { $0.uid == uid }
            XCTAssertFalse(runs.isEmpty)
        }
        XCTAssertTrue(pruned.contains { $0.detail.contains("over its user's quota ([logs] user_bytes 200 MiB)") || $0.detail.contains("over the quota of all logs") },
                      pruned.map(\.detail).joined(separator: "\n"))
        let first = try f.cli(["logs", "1"])
        XCTAssertTrue(first.stderr.contains("the output of run 1 is no longer kept: log of"), first.stderr)
    }

    func testLogsOlderThanTheRetentionPeriodArePrunedWhileTheDaemonIsIdle() throws {
        let f = try fixture(config: "[logs]\nretention = \"2s\"\n")
        XCTAssertEqual(f.run(["/bin/echo", "kept a while"]).stdout, "kept a while\n")
        XCTAssertTrue(FileManager.default.fileExists(atPath: f.stateDir + "/logs/run-1.log"))
        XCTAssertTrue(eventually(10) { !FileManager.default.fileExists(atPath: f.stateDir + "/logs/run-1.log") }, "pruned with no run to prompt it")
        let pruned = try audit(f).filter { $0.kind == .logPruned }
        XCTAssertEqual(pruned.map(\.runID), [1])
        XCTAssertTrue(pruned.first?.detail.contains("older than the retention period ([logs] retention 2s)") ?? false, "\(pruned)")
        // A restarted daemon applies the retention to what it finds.
        XCTAssertEqual(f.run(["/bin/echo", "again"]).stdout, "again\n")
        f.stopDaemon()
        sleep(3)
        try f.start()
        XCTAssertFalse(FileManager.default.fileExists(atPath: f.stateDir + "/logs/run-2.log"))
    }

    func testRunsAreRefusedWhileTheStateFilesystemIsNearlyFull() throws {
        let f = try fixture(config: "[paths]\nstate_min_free = \"1000000TiB\"\n")
        let refused = f.run(["/bin/true"])
        XCTAssertTrue(refused.error?.contains("the state filesystem (\(f.stateDir)) has") ?? false, "\(refused)")
        XCTAssertTrue(refused.error?.contains("below [paths] state_min_free") ?? false, "\(refused)")
    }

    func testAuditRowsHoldABoundedArgvAndTheDigestOfAllOfIt() throws {
        let f = try fixture()
        let argv = ["/bin/true"] + (0..<100).map { String(repeating: Character(UnicodeScalar(UInt8(97 + $0 % 26))), count: 2048) }
        XCTAssertEqual(f.run(argv).record?.status, .ok)
        let accepted = try XCTUnwrap(try audit(f).first { $0.kind == .runAccepted })
        XCTAssertLessThan(accepted.detail.utf8.count, 2048, "a prefix, not 200 KiB")
        let digest = sha256Hex(argv.flatMap { Array($0.utf8) + [0] })
        XCTAssertTrue(accepted.detail.contains("101 arguments, \(argv.reduce(0) { $0 + $1.utf8.count + 1 }) bytes in all, sha256 \(digest)"), accepted.detail)
        XCTAssertEqual(try f.cli(["show", "1", "--json"]).stdout.contains(argv[100]), true, "the record keeps the whole argv")
    }

    func testRefusalsOfOneUserAreRecordedAtABoundedRate() throws {
        let f = try fixture(config: "[caps]\nrefusals_per_minute = 5\n")
        for _ in 0..<20 {
            let out = try f.cli(["run", "--template", "nonexistent", "--", "/bin/true"], asUser: 65534)
            XCTAssertEqual(out.status, 125)
            XCTAssertTrue(out.stderr.contains("unknown template 'nonexistent'"), "every refusal is still answered: \(out.stderr)")
        }
        XCTAssertEqual(try audit(f).filter { $0.kind == .runRefused }.count, 5)
        let rows = try RecordStore(path: f.stateDir + "/glovebox.db").runs(status: .refused)
        XCTAssertEqual(rows.count, 5)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "others are not affected")
    }

    func testTheNextRecordedRefusalCountsThoseThatWereNot() {
        let limiter = RefusalLimiter(perMinute: 2)
        XCTAssertTrue(limiter.admit(7, now: 0).record)
        XCTAssertTrue(limiter.admit(7, now: 1).record)
        XCTAssertFalse(limiter.admit(7, now: 2).record)
        XCTAssertFalse(limiter.admit(7, now: 3).record)
        XCTAssertTrue(limiter.admit(8, now: 3).record, "per user")
        XCTAssertFalse(limiter.admit(7, now: 59).record)
        let next = limiter.admit(7, now: 61)
        XCTAssertTrue(next.record)
        XCTAssertEqual(next.unrecorded, 3)
        XCTAssertEqual(limiter.admit(7, now: 62).unrecorded, 0)
    }
}
