import Foundation
import Policy
import Records
import Synchronization
import GloveboxSystem
import XCTest
@testable import Sandbox
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The GPU pool with stand-in devices: character nodes of NVIDIA's major (195) made with mknod. Without
/// a driver, opening one that the device cgroup allows fails with ENXIO; one it does not allow, EPERM.
final class GPULeaseTests: XCTestCase {
    var fixture: DaemonFixture!
    var nodes = ""

    override func setUpWithError() throws {
        signal(SIGPIPE, SIG_IGN)
        var template = Array("/var/tmp/glovebox-gpus.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("mkdtemp") }
        nodes = String(nulTerminated: template)
        for minor in [0, 1] {
            XCTAssertEqual(try DaemonFixture.run(["/bin/mknod", "-m", "666", nodes + "/nvidia\(minor)", "c", "195", "\(minor)"]).status, 0)
        }
        let config = "[gpus]\ndevices = [\"\(nodes)/nvidia0\", \"\(nodes)/nvidia1\"]\n"
        let gpu = DaemonTestCase.policy() .replacingOccurrences(of: "storage = \"64MiB\"", with: "storage = \"64MiB\"\ngpus = 4")
        fixture = try DaemonFixture(policies: ["gpu": gpu], config: config)
    }

    override func tearDown() {
        fixture?.stop()
        if let fixture { XCTAssertEqual(HostState.gloveboxCgroups(of: fixture), [], "cgroups left behind") }
        _ = try? DaemonFixture.run(["/bin/rm", "-rf", nodes])
    }

    static let probe = """
    import os, errno, time, sys
    names = sorted(n for n in os.listdir("/dev") if n.startswith("nvidia"))
    results = []
    for n in names:
        try:
            os.close(os.open("/dev/" + n, os.O_RDWR)); results.append(n + ":open")
        except OSError as e:
            results.append(n + ":" + errno.errorcode[e.errno])
    print(" ".join(results), os.environ.get("CUDA_VISIBLE_DEVICES", "-"))
    sys.stdout.flush()
    time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 0)
    """

    func testALeasedGPUIsReachableAndNoOtherIs() throws {
        let one = fixture.run(["/usr/bin/python3", "-c", Self.probe], template: "gpu", limits: LimitRequest(gpus: 1))
        XCTAssertEqual(one.record?.status, .ok, one.stderr + (one.error ?? ""))
        XCTAssertEqual(one.stdout, "nvidia0:ENXIO 0\n", "the leased node passes the device cgroup (ENXIO: no driver), and it is the only one")
        let none = fixture.run(["/usr/bin/python3", "-c", Self.probe], template: "gpu", limits: LimitRequest(gpus: 0))
        XCTAssertEqual(none.stdout, " -\n", "a run without a lease sees no GPU")
        let both = fixture.run(["/usr/bin/python3", "-c", Self.probe], template: "gpu", limits: LimitRequest(gpus: 2))
        XCTAssertEqual(both.stdout, "nvidia0:ENXIO nvidia1:ENXIO 0,1\n")
        // No driver describes the stand-ins: the record says so for each, and guesses nothing.
        let gpus = try XCTUnwrap(both.record?.machine?.gpus)
        XCTAssertEqual(gpus.map(\.device), [nodes + "/nvidia0", nodes + "/nvidia1"])
        XCTAssertEqual(gpus.map(\.identified), [false, false])
        XCTAssertEqual(gpus.map(\.name), [nil, nil])
        XCTAssertEqual(gpus[0].problem, "not identified: /proc/driver/nvidia gives no model, UUID, driver version for \(nodes)/nvidia0 (minor 0)")
        XCTAssertEqual(none.record?.machine?.gpus, [])
    }

    /// What the driver's /proc files say of a GPU, read from a stand-in of /proc/driver/nvidia.
    func testTheDriversDescriptionNamesEachGPU() throws {
        let root = nodes + "/driver"
        try FileManager.default.createDirectory(atPath: root + "/gpus/0000:1b:00.0", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/gpus/0000:2c:00.0", withIntermediateDirectories: true)
        try "Model: \t\t NVIDIA H100 80GB HBM3\nIRQ:   123\nGPU UUID: \t GPU-5e2c0a1b-aaaa-bbbb-cccc-0123456789ab\nDevice Minor: \t 1\n"
            .write(toFile: root + "/gpus/0000:1b:00.0/information", atomically: false, encoding: .utf8)
        try "Model: \t NVIDIA A100-SXM4-40GB\nDevice Minor: \t 0\n".write(toFile: root + "/gpus/0000:2c:00.0/information", atomically: false, encoding: .utf8)
        try "NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.15  Tue Mar  5 22:23:56 UTC 2024\nGCC version:  gcc version 12.2.0\n"
            .write(toFile: root + "/version", atomically: false, encoding: .utf8)
        let inventory = try GPUInventory.discover(configured: [nodes + "/nvidia0", nodes + "/nvidia1"], driverRoot: root)
        XCTAssertEqual(inventory.driverVersion, "550.54.15")
        let second = inventory.describe(1)
        XCTAssertEqual(second.name, "NVIDIA H100 80GB HBM3")
        XCTAssertEqual(second.uuid, "GPU-5e2c0a1b-aaaa-bbbb-cccc-0123456789ab")
        XCTAssertEqual(second.problem, "")
        let first = inventory.describe(0)
        XCTAssertEqual(first.name, "NVIDIA A100-SXM4-40GB")
        XCTAssertEqual(first.problem, "not identified: /proc/driver/nvidia gives no UUID for \(nodes)/nvidia0 (minor 0)")
    }

    func testConcurrentRunsNeverHoldTheSameGPU() throws {
        let fixture = self.fixture!
        let seen = Mutex<[String]>([])
        let done = DispatchSemaphore(value: 0)
        for _ in 0..<4 {  // four runs for two GPUs: two wait for a lease to end
            try spawnDetachedThread {
                let outcome = fixture.run(["/usr/bin/python3", "-c", Self.probe, "0.5"], template: "gpu", limits: LimitRequest(gpus: 1))
                seen.withLock { $0.append(outcome.stdout + "@" + String(outcome.record?.startedAt ?? 0) + "@" + String(outcome.record?.endedAt ?? 0)) }
                done.signal()
            }
        }
        for _ in 0..<4 { XCTAssertEqual(done.wait(timeout: .now() + 60), .success) }
        let runs = seen.withLock { $0 }.map { line -> (gpu: String, start: Double, end: Double) in
            let parts = line.split(separator: "@")
            return (String(parts[0].split(separator: ":").first ?? ""), Double(parts[1]) ?? 0, Double(parts[2]) ?? 0)
        }
        XCTAssertEqual(runs.count, 4)
        for (i, a) in runs.enumerated() {
            for b in runs[(i + 1)...] where a.gpu == b.gpu {
                XCTAssertTrue(a.end <= b.start || b.end <= a.start, "two runs held \(a.gpu) at once: \(runs)")
            }
        }
        XCTAssertTrue(runs.allSatisfy { $0.gpu == "nvidia0" || $0.gpu == "nvidia1" }, "\(runs)")
    }

    func testMoreGPUsThanTheServerHasIsRefused() {
        let outcome = fixture.run(["/bin/true"], template: "gpu", limits: LimitRequest(gpus: 3))
        XCTAssertNil(outcome.record)
        XCTAssertTrue(outcome.error?.contains("3 GPU(s) asked for and this server has 2") ?? false, outcome.error ?? "")
    }
}
