import Foundation
import GloveboxSystem
@testable import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// On a cgroup v1 host without a unified hierarchy there is no `cgroup.kill`: a run is ended by freezing
/// its freezer cgroup, SIGKILLing every task, and thawing. This host has a unified mount, so the daemon
/// never takes that path here; this test drives the v1 driver without it, against a shell that forks
/// without pause, and fails if any process of the run survives.
final class CgroupV1FreezerTests: XCTestCase {
    func testWithoutAUnifiedHierarchyTheFreezerEndsAForkingRun() throws {
        if CgroupHierarchy.isCgroup2("/sys/fs/cgroup") { throw XCTSkip("a cgroup v2 host: the v1 driver does not apply") }
        let membership = try CgroupMembership.ofSelf()
        let driver = try CgroupV1Driver(mountRoot: "/sys/fs/cgroup", membership: membership.legacy, unified: nil,
                                        instance: "glovebox-freezer-test-\(getpid())")
        defer { driver.removeInstance() }
        XCTAssertTrue(driver.runControllers.contains("freezer"))
        let run = try driver.createRun(name: "run-1", limits: CgroupLimits(memoryBytes: 256 << 20, pids: 64, cpus: 1,
                                                                           devices: MountPlan.devices.map(\.number)))
        let pidsFile = try XCTUnwrap(run.procsFiles.first { $0.contains("/pids/") })
        func members() -> [Int32] { ((try? String(contentsOfFile: pidsFile, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Int32($0) } }
        let freezerState = try XCTUnwrap(run.procsFiles.first { $0.contains("/freezer/") }).replacingOccurrences(of: "cgroup.procs", with: "freezer.state")
        defer {
            // Whatever happened above, nothing of the run outlives the test (thawed first: a frozen task
            // cannot die).
            try? "THAWED".write(toFile: freezerState, atomically: false, encoding: .utf8)
            let deadline = Date().addingTimeInterval(5)
            while !members().isEmpty && Date() < deadline {
                for pid in members() { kill(pid, SIGKILL) }
                usleep(10_000)
            }
            XCTAssertNoThrow(try run.remove())
        }

        // The shell waits on its stdin until it is in the run's cgroups, then forks sleepers without end
        // (up to the run's pids limit).
        let shell = Process()
        shell.executableURL = URL(fileURLWithPath: "/bin/sh")
        shell.arguments = ["-c", "read go; while true; do /bin/sleep 100 & done"]
        let stdin = Pipe()
        shell.standardInput = stdin
        shell.standardOutput = FileHandle.nullDevice
        shell.standardError = FileHandle.nullDevice
        try shell.run()
        try run.place(pid: shell.processIdentifier)
        stdin.fileHandleForWriting.write(Data("go\n".utf8))
        let crowded = Date().addingTimeInterval(5)
        while members().count < 20 && Date() < crowded { usleep(10_000) }
        XCTAssertGreaterThanOrEqual(members().count, 20, "the shell forked")

        try run.killAll()
        XCTAssertTrue(run.waitUntilEmpty(milliseconds: 5000), "left alive: \(members())")
        let reaped = Date().addingTimeInterval(5)
        while shell.isRunning && Date() < reaped { usleep(10_000) }
        // Killed, or, on a loaded machine, already gone by itself: dash exits (status 2) when it cannot fork
        // at the run's pids limit. Its sleepers are what the kill must end, and the cgroup is empty above.
        XCTAssertFalse(shell.isRunning, "the shell survived")
        if !shell.isRunning && shell.terminationReason == .exit {
            XCTAssertEqual(shell.terminationStatus, 2, "dash's status when it cannot fork")
        }
    }
}
