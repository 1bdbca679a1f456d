import Foundation
import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The device cgroup is what keeps a run away from device nodes it was not given: v1 `devices.deny a`
/// plus allows on this host, the BPF_PROG_TYPE_CGROUP_DEVICE program on cgroup v2 (this class also runs
/// inside the v2vm guest, see CgroupV2VMTests). A character device 195:0 (an NVIDIA GPU's number, no
/// driver here) opens with ENXIO outside any run cgroup: the kernel let the open through to the missing
/// driver. The same open inside a run's cgroup must fail earlier, with EPERM: that difference is the cgroup.
final class DeviceCgroupTests: XCTestCase {
    var scratch: String?
    var hierarchy: CgroupHierarchy?
    var run: RunCgroup?
    let instance = "glovebox-devtest-\(getpid())"

    override func setUpWithError() throws {
        guard geteuid() == 0 else { throw XCTSkip("needs root (mknod, cgroups)") }
    }

    override func tearDown() {
        if let run {
            try? run.killAll()
            XCTAssertTrue(run.waitUntilEmpty(milliseconds: 10_000), "the helper did not leave the run cgroup")
            XCTAssertNoThrow(try run.remove())
        }
        hierarchy?.removeInstance()
        if let scratch { _ = try? DaemonFixture.run(["/bin/rm", "-rf", scratch]) }
        run = nil
        hierarchy = nil
        scratch = nil
        let (_, left, _) = (try? DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", instance])) ?? (0, "", "")
        XCTAssertEqual(left, "", "cgroups left behind")
    }

    /// glibc's makedev (a macro Swift does not import).
    static func deviceNumber(major: UInt64, minor: UInt64) -> dev_t {
        dev_t(((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12))
    }

    /// Opens each path given (O_RDWR) and prints "ok" or the errno; then its own cgroup membership.
    static let probe = """
        import os, sys
        for path in sys.argv[1:]:
            try:
                os.close(os.open(path, os.O_RDWR)); print("ok")
            except OSError as e:
                print(e.errno)
        sys.stdout.write(open("/proc/self/cgroup").read())
        """

    func testADeviceTheRunWasNotGivenIsRefusedByTheCgroupAndItsOwnDevicesOpen() throws {
        var template = Array("/var/tmp/glovebox-devtest.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { return XCTFail("mkdtemp: \(String(cString: strerror(errno)))") }
        let scratch = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        self.scratch = scratch
        let node = scratch + "/nvidia0"
        XCTAssertEqual(mknod(node, S_IFCHR | 0o666, Self.deviceNumber(major: 195, minor: 0)), 0, "mknod: \(String(cString: strerror(errno)))")

        let hierarchy = try CgroupHierarchy.detect(instance: instance)
        self.hierarchy = hierarchy
        let run = try hierarchy.createRun(name: "run-devtest", limits: CgroupLimits(
            memoryBytes: 256 << 20, pids: 32, cpus: 1, devices: MountPlan.devices.map(\.number)))
        self.run = run
        XCTAssertFalse(run.procsFiles.isEmpty)

        // Outside: the open reaches the (absent) driver.
        let outside = try DaemonFixture.run(["/usr/bin/python3", "-c", Self.probe, node, "/dev/null"])
        let outsideLines = outside.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(outsideLines.prefix(2)), ["\(ENXIO)", "ok"], "control outside the run cgroup: \(outside.stdout) \(outside.stderr)")
        XCTAssertFalse(outside.stdout.contains("run-devtest"))

        // Inside: a shell joins the run's cgroup in every hierarchy, then becomes the same probe.
        let join = "for f in \(run.procsFiles.joined(separator: " ")); do echo $$ > $f || exit 99; done; p=$1; shift; exec /usr/bin/python3 -c \"$p\" \"$@\""
        let inside = try DaemonFixture.run(["/bin/sh", "-c", join, "sh", Self.probe, node, "/dev/null", "/dev/zero", "/dev/urandom"])
        XCTAssertEqual(inside.status, 0, inside.stderr)
        let insideLines = inside.stdout.split(separator: "\n").map(String.init)
        XCTAssertEqual(Array(insideLines.prefix(4)), ["\(EPERM)", "ok", "ok", "ok"], "inside the run cgroup: \(inside.stdout) \(inside.stderr)")
        XCTAssertTrue(inside.stdout.contains("/run-devtest"), "the probe must have been in the run's cgroup: \(inside.stdout)")
    }
}
