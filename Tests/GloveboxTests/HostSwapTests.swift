import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Swap, which a memory limit alone does not bound: limited to nothing for every run, and runs refused
/// where the kernel cannot limit it while it is on.
final class HostSwapTests: FixturesTestCase {
    /// A 32 MiB swap file of the host's, on while `body` runs, and off and removed after it, also when it fails.
    func withSwapOn(_ body: () throws -> Void) throws {
        let dir = try hostDirectory("swap")
        let file = dir + "/swapfile"
        XCTAssertEqual(try DaemonFixture.run(["/usr/bin/fallocate", "-l", "32M", file]).status, 0)
        chmod(file, 0o600)
        XCTAssertEqual(try DaemonFixture.run(["/sbin/mkswap", file]).status, 0)
        let on = try DaemonFixture.run(["/sbin/swapon", file])
        guard on.status == 0 else { throw XCTSkip("swapon is not possible here: \(on.stderr)") }
        defer { _ = try? DaemonFixture.run(["/sbin/swapoff", file]) }
        try body()
    }

    func sleepingRun(_ f: DaemonFixture) throws -> (pid: pid_t, memory: String) {
        let client = try spawnClient(f, ["run", "--memory", "128MiB", "--", "/bin/sleep", "30"])
        var memory = ""
        XCTAssertTrue(try eventually { memory = try f.cgroupDirectories("run-*").first { $0.hasPrefix("/sys/fs/cgroup/memory/") } ?? ""; return !memory.isEmpty })
        return (client, memory)
    }

    func testARunsMemoryCgroupLimitsSwapToNothing() throws {
        guard FileManager.default.fileExists(atPath: "/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes") else {
            throw XCTSkip("a cgroup v1 memory hierarchy with swap accounting (the v2 VM's tests check memory.swap.max)")
        }
        let f = try fixture()
        let (client, memory) = try sleepingRun(f)
        defer { kill(client, SIGINT); var status: Int32 = 0; waitpid(client, &status, 0) }
        func read(_ file: String) -> String { ((try? String(contentsOfFile: memory + "/" + file, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines) }
        XCTAssertEqual(read("memory.limit_in_bytes"), String(128 << 20))
        XCTAssertEqual(read("memory.memsw.limit_in_bytes"), String(128 << 20), "memory and swap together: no swap at all")
        XCTAssertEqual(read("memory.swappiness"), "0")
    }

    /// GLOVEBOX_FAULT=no-swap-accounting stands for a host booted with swapaccount=0, which no test machine is.
    func testWithoutSwapAccountingNothingRunsWhileSwapIsOn() throws {
        let f = try fixture()
        let fault = ["GLOVEBOX_FAULT": "no-swap-accounting"]
        try withSwapOn {
            XCTAssertThrowsError(try f.restart(environment: fault)) { error in
                XCTAssertTrue("\(error)".contains("swap is on (/proc/swaps) and the kernel does not account it"), "\(error)")
            }
        }
        try f.restart(environment: fault)  // swap off: nothing to limit
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        try withSwapOn {
            let refused = f.run(["/bin/true"])
            XCTAssertTrue(refused.error?.contains("swap is on (/proc/swaps)") ?? false, "\(refused)")
            XCTAssertTrue(try f.cli(["ps", "--all"]).stdout.contains("refused"), "the refusal is recorded")
        }
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "swap off again: runs go on")
        XCTAssertTrue(HostState.gloveboxCgroups(of: f).allSatisfy { !$0.contains("run-") })
    }
}
