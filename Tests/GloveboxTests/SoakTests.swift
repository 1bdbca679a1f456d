import Foundation
import GloveboxSystem
import Policy
import Records
import Synchronization
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A CI-sized soak (scripts/soak.sh is the full one): 150 runs in sequence, then 60 from 10 clients at
/// once, with every 10th run through --workdir/--output and every 50th on an ext4 loop volume. After
/// each phase the daemon holds no more descriptors than after the warm-up (+2) and nothing of a run is
/// left: no mount, loop device, cgroup or run directory; every run is recorded ok; VmRSS stays within
/// a bound.
final class SoakTests: XCTestCase {
    static let sequential = 150
    static let concurrent = 60
    static let clients = 10
    static let warmUp = 11
    static let descriptorSlack = 2
    static let rssBoundKiB = 20 * 1024

    override func setUp() { signal(SIGPIPE, SIG_IGN) }

    struct Snapshot: CustomStringConvertible {
        var rssKiB = 0, hwmKiB = 0, threads = 0, descriptors = 0
        var mounts: [String] = []       // this daemon's, in its mount namespace (but for the tmpfs of its runs' directories)
        var loops: [String] = []        // loop devices whose backing file is under the fixture's directory
        var cgroups: [String] = []      // run-* directories under this daemon's cgroup instance
        var runDirectories: [String] = []

        var leftovers: Bool { !mounts.isEmpty || !loops.isEmpty || !cgroups.isEmpty || !runDirectories.isEmpty }
        var description: String {
            "VmRSS \(rssKiB) KiB, VmHWM \(hwmKiB) KiB, \(threads) threads, \(descriptors) descriptors, mounts \(mounts), "
                + "loops \(loops), cgroups \(cgroups), run directories \(runDirectories)"
        }
    }

    static func snapshot(_ f: DaemonFixture) -> Snapshot {
        var s = Snapshot()
        let status = (try? String(contentsOfFile: "/proc/\(f.pid)/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") {
            let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard parts.count >= 2, let value = Int(parts[1]) else { continue }
            switch parts[0] {
            case "VmRSS:": s.rssKiB = value
            case "VmHWM:": s.hwmKiB = value
            case "Threads:": s.threads = value
            default: break
            }
        }
        s.descriptors = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(f.pid)/fd")) ?? []).count
        s.mounts = ((try? String(contentsOfFile: "/proc/\(f.pid)/mountinfo", encoding: .utf8)) ?? "")
            .split(separator: "\n").filter { $0.contains(f.scratch) && !$0.contains(" \(f.stateDir)/runs ") }.map(String.init)
        let (_, loops, _) = (try? DaemonFixture.run(["/usr/sbin/losetup", "-a"])) ?? (0, "", "")
        s.loops = loops.split(separator: "\n").filter { $0.contains(f.scratch) }.map(String.init)
        let (_, cgroups, _) = (try? DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-path", "*/\(f.cgroupInstance)/*",
                                                       "-type", "d", "-name", "run-*"])) ?? (0, "", "")
        s.cgroups = cgroups.split(separator: "\n").map(String.init)
        s.runDirectories = f.runDirectories
        return s
    }

    /// A snapshot once the runs' teardown has settled (up to 10 s): nothing of a run left, and the same
    /// thread and descriptor counts 200 ms apart. The daemon answers a client before it removes the run's
    /// cgroups and volume, so the last runs' connection threads may still hold descriptors for a moment;
    /// a leak is what is still there when the daemon is quiet.
    static func settledSnapshot(_ f: DaemonFixture, baseline: Snapshot? = nil) -> Snapshot {
        var previous = snapshot(f)
        for _ in 0..<50 {
            usleep(200_000)
            let s = snapshot(f)
            let quiet = s.threads == previous.threads && s.descriptors == previous.descriptors
            let withinBaseline = baseline.map { s.descriptors - $0.descriptors <= descriptorSlack } ?? true
            if !s.leftovers && quiet && withinBaseline { return s }
            previous = s
        }
        return previous
    }

    /// Run number `i`: plain; every 10th with a workdir and an output; every 50th on a 300 MiB ext4 volume.
    /// Returns nil when it went as expected, else what went wrong.
    static func run(_ i: Int, _ f: DaemonFixture, workdir: String) -> String? {
        let o: DaemonFixture.Outcome
        if i % 50 == 0 {
            o = f.run(["/bin/sh", "-c", "head -c 1048576 /dev/zero >/tmp/f && echo $$"], template: "python",
                      limits: LimitRequest(storageBytes: 300 << 20))
        } else if i % 10 == 0 {
            let name = "out-\(i)-\(UInt32.random(in: 0...UInt32.max)).txt"
            o = f.run(["/bin/sh", "-c", "cat input.txt >/dev/null && echo $$ | tee \(name)"], workdir: workdir, outputs: [name])
            let copied = try? String(contentsOfFile: workdir + "/" + name, encoding: .utf8)
            unlink(workdir + "/" + name)
            if o.record?.status == .ok && copied != "2\n" { return "run \(i): output \(name) came back as \(copied ?? "nothing")" }
        } else {
            o = f.run(["/bin/sh", "-c", "echo $$"])
        }
        if o.record?.status != .ok || o.stdout != "2\n" {
            let what = o.record.map { "\($0.status) \($0.message)" } ?? o.error ?? "no record"
            return "run \(i): \(what), stdout \(o.stdout.debugDescription), stderr \(o.stderr.suffix(300).debugDescription)"
        }
        return nil
    }

    func assertNothingLeaked(_ s: Snapshot, baseline: Snapshot, _ phase: String, file: StaticString = #filePath, line: UInt = #line) {
        // No growth (fewer is fine: connection threads of the warm-up may still have been closing).
        XCTAssertLessThanOrEqual(s.descriptors - baseline.descriptors, Self.descriptorSlack,
                                 "\(phase): descriptors \(s.descriptors), after the warm-up \(baseline.descriptors)", file: file, line: line)
        XCTAssertEqual(s.mounts, [], "\(phase): mounts left", file: file, line: line)
        XCTAssertEqual(s.loops, [], "\(phase): loop devices left", file: file, line: line)
        XCTAssertEqual(s.cgroups, [], "\(phase): run cgroups left", file: file, line: line)
        XCTAssertEqual(s.runDirectories, [], "\(phase): run directories left", file: file, line: line)
    }

    func testSequentialThenConcurrentRunsLeakNothing() throws {
        let f = try DaemonFixture(config: "[caps]\nuser_concurrent_runs = 16\nuser_runs_per_hour = 100000\nruns_per_hour = 100000\n")
        let workdir = f.scratch + "/work"
        defer {
            f.stop()  // removes the scratch directory, workdir included
            XCTAssertEqual(HostState.gloveboxCgroups(of: f), [])
            XCTAssertEqual(HostState.gloveboxMounts().filter { $0.contains(f.scratch) }, [])
        }
        XCTAssertEqual(mkdir(workdir, 0o755), 0)
        try DaemonFixture.write(workdir + "/input.txt", "input\n")

        // Warm-up: every kind of run once (10: workdir, 50: loop volume), so that lazily created state
        // (database statements, thread pools, caches) is in the baseline.
        var failures: [String] = []
        for i in [1, 2, 3, 10, 20, 50, 4, 5, 6, 7, 8] { Self.run(i, f, workdir: workdir).map { failures.append($0) } }
        let warm = Self.settledSnapshot(f)
        XCTAssertFalse(warm.leftovers, "after the warm-up: \(warm)")

        let startA = Date()
        for i in 1...Self.sequential { Self.run(i, f, workdir: workdir).map { failures.append($0) } }
        let secondsA = Date().timeIntervalSince(startA)
        let afterA = Self.settledSnapshot(f, baseline: warm)
        assertNothingLeaked(afterA, baseline: warm, "after \(Self.sequential) sequential runs")

        let concurrentFailures = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        let perClient = Self.concurrent / Self.clients
        let startB = Date()
        for client in 0..<Self.clients {
            try spawnDetachedThread {
                for k in 0..<perClient {
                    // Run numbers 1...60 across the clients, so that 10, 20, ... and 50 come up as above.
                    if let failure = Self.run(client * perClient + k + 1, f, workdir: workdir) { concurrentFailures.withLock { $0.append(failure) } }
                }
                done.signal()
            }
        }
        for _ in 0..<Self.clients { XCTAssertEqual(done.wait(timeout: .now() + 300), .success) }
        let secondsB = Date().timeIntervalSince(startB)
        failures += concurrentFailures.withLock { $0 }
        let afterB = Self.settledSnapshot(f, baseline: warm)
        assertNothingLeaked(afterB, baseline: warm, "after \(Self.concurrent) runs at \(Self.clients) concurrent")

        XCTAssertEqual(failures, [])
        let total = Self.warmUp + Self.sequential + Self.concurrent
        let records = try RecordStore(path: f.stateDir + "/glovebox.db").runs(limit: total + 100)
        XCTAssertEqual(records.count, total)
        XCTAssertEqual(records.filter { $0.status == .ok }.count, total, "\(records.filter { $0.status != .ok }.prefix(5))")
        let growth = afterB.rssKiB - warm.rssKiB
        XCTAssertLessThanOrEqual(growth, Self.rssBoundKiB, "VmRSS grew by \(growth) KiB from the warm-up to the end")
        print("""
            soak: warm-up  \(warm)
            soak: after A  \(afterA) (\(Self.sequential) runs in \(String(format: "%.1f", secondsA)) s)
            soak: after B  \(afterB) (\(Self.concurrent) runs at \(Self.clients) concurrent in \(String(format: "%.1f", secondsB)) s)
            soak: VmRSS growth \(growth) KiB
            """)
    }
}
