import GloveboxSystem
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What a policy's read-only paths may lead to on the host: only directories and regular files, reached
/// without a symlink on the way, on filesystems that are not the kernel's. Checked at the daemon's start
/// (the policy is refused, loudly) and at every root built (the run is refused), on the very descriptor
/// the bind is then taken of.
final class BindSourceTests: FixturesTestCase {
    /// A listening Unix socket at `path`, closed after the test.
    func listener(_ path: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        XCTAssertEqual(bound, 0, String(cString: strerror(errno)))
        XCTAssertEqual(listen(fd, 4), 0)
        return fd
    }

    func refusal(_ f: DaemonFixture, _ template: String) -> String {
        f.run(["/bin/true"], template: template).error ?? "(ran)"
    }

    func testPathsThroughSymlinksToSocketsAndToKernelFilesystemsAreRefusedAtStart() throws {
        let dir = try hostDirectory("bind-sources")
        // A service's socket under /run, named through the /var/run symlink, as the audit found.
        let runDir = "/run/glovebox-test-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(runDir, 0o755), 0)
        defer { _ = try? DaemonFixture.run(["/bin/rm", "-rf", runDir]) }
        let service = try listener(runDir + "/service.sock")
        defer { close(service) }
        let viaVarRun = "/var/run/" + runDir.dropFirst("/run/".count) + "/service.sock"
        guard FileIO.readLink("/var/run") != nil else { throw XCTSkip("/var/run is not a symlink here") }
        // A socket and a FIFO reached without symlinks, a symlinked directory, and /proc under another name.
        let socketPath = dir + "/plain.sock"
        let plain = try listener(socketPath)
        defer { close(plain) }
        XCTAssertEqual(mkfifo(dir + "/fifo", 0o644), 0)
        XCTAssertEqual(mkdir(dir + "/real", 0o755), 0)
        XCTAssertEqual(mkdir(dir + "/real/sub", 0o755), 0)
        XCTAssertEqual(symlink(dir + "/real", dir + "/link"), 0)
        XCTAssertEqual(mkdir(dir + "/proc", 0o755), 0)
        XCTAssertEqual(mount("proc", dir + "/proc", "proc", 0, nil), 0, String(cString: strerror(errno)))
        defer { _ = umount2(dir + "/proc", Int32(MNT_DETACH)) }

        let f = try fixture(policies: [
            "docker": DaemonTestCase.policy(readOnly: viaVarRun), "socket": DaemonTestCase.policy(readOnly: socketPath),
            "fifo": DaemonTestCase.policy(readOnly: dir + "/fifo"), "linked": DaemonTestCase.policy(readOnly: dir + "/link/sub"),
            "proc": DaemonTestCase.policy(readOnly: dir + "/proc/sys"), "fine": DaemonTestCase.policy(readOnly: dir + "/real"),
        ])
        XCTAssertEqual(f.run(["/bin/ls", dir + "/real"], template: "fine").record?.status, .ok, "the others are served")
        for template in ["docker", "socket", "fifo", "linked", "proc"] {
            XCTAssertTrue(refusal(f, template).contains("unknown template '\(template)'"), refusal(f, template))
        }
        let log = f.log
        for expected in ["'\(viaVarRun)' passes through the symlink /var/run (-> /run)", "'\(socketPath)' is a socket",
                         "'\(dir)/fifo' is a FIFO", "'\(dir)/link/sub' passes through the symlink \(dir)/link (-> \(dir)/real)",
                         "'\(dir)/proc/sys' is on proc, a kernel filesystem"] {
            XCTAssertTrue(log.contains(expected), "\(expected) not in the log:\n\(log.suffix(3000))")
        }
        XCTAssertTrue(try f.cli(["audit"]).stdout.contains("policy-rejected"))
    }

    /// The host changes after the start: a directory on a read-only path's way becomes a symlink to a place
    /// the policy does not show. The next root built refuses the run instead of following it.
    func testASymlinkMadeOnAPathsWayAfterTheStartIsNotFollowed() throws {
        let dir = try hostDirectory("bind-swap")
        XCTAssertEqual(mkdir(dir + "/d", 0o755), 0)
        XCTAssertEqual(mkdir(dir + "/d/data", 0o755), 0)
        try DaemonFixture.write(dir + "/d/data/file", "meant to be seen\n")
        let secret = "/run/glovebox-test-secret-\(UInt32.random(in: 0...UInt32.max))"
        XCTAssertEqual(mkdir(secret, 0o755), 0)
        defer { _ = try? DaemonFixture.run(["/bin/rm", "-rf", secret]) }
        XCTAssertEqual(mkdir(secret + "/data", 0o755), 0)
        try DaemonFixture.write(secret + "/data/file", "host secret\n")

        let f = try fixture(policies: ["data": DaemonTestCase.policy(readOnly: dir + "/d/data")])
        XCTAssertEqual(f.run(["/bin/cat", dir + "/d/data/file"], template: "data").stdout, "meant to be seen\n")
        XCTAssertEqual(rename(dir + "/d", dir + "/d.old"), 0)
        XCTAssertEqual(symlink(secret, dir + "/d"), 0)
        waitPastRecheck()
        let after = f.run(["/bin/cat", dir + "/d/data/file"], template: "data")
        XCTAssertEqual(after.record?.status, .refused, after.stdout + after.stderr)
        XCTAssertTrue(after.record?.message.contains("passes through the symlink \(dir)/d (-> \(secret))") ?? false, "\(after)")
        XCTAssertFalse(after.stdout.contains("host secret"))
    }
}
