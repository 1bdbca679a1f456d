import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// A test class sharing one real gloveboxd among its tests: started before the first, stopped after the
/// last, and checked to have left no cgroup behind. Subclasses name extra policies in `policies`.
class DaemonTestCase: XCTestCase {
    nonisolated(unsafe) private static var daemons: [ObjectIdentifier: DaemonFixture] = [:]
    class var policies: [String: String] { [:] }
    var daemon: DaemonFixture { Self.daemons[ObjectIdentifier(Self.self)]! }
    let python = "/usr/bin/python3"

    override class func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
        do { daemons[ObjectIdentifier(self)] = try DaemonFixture(policies: policies) } catch { fatalError("cannot start gloveboxd: \(error)") }
    }

    override class func tearDown() {
        if let daemon = daemons.removeValue(forKey: ObjectIdentifier(self)) {
            daemon.stop()
            XCTAssertEqual(HostState.gloveboxCgroups(of: daemon), [], "cgroups left behind")
        }
        super.tearDown()
    }

    /// A policy with the given limits, open to everyone.
    static func policy(timeout: String = "1m", memory: String = "256MiB", pids: Int = 64, cpus: Double = 1, storage: String = "64MiB",
                       extra: String = "", users: String = "[\"*\"]") -> String {
        """
        [limits]
        timeout = "\(timeout)"
        memory = "\(memory)"
        pids = \(pids)
        cpus = \(cpus)
        storage = "\(storage)"
        \(extra)

        [access]
        users = \(users)
        """
    }

    /// `policy()` with the system's directories and `path` read-only.
    static func policy(readOnly path: String) -> String {
        policy().replacingOccurrences(of: "[limits]", with: """
            [filesystem]
            read_only = ["/usr", "/bin", "/lib", "/lib64", "\(path)"]

            [limits]
            """)
    }
}

/// A test class whose tests each start daemons of their own (`fixture()`), all stopped after the test and
/// checked to have left no cgroup behind.
class FixturesTestCase: XCTestCase {
    private var fixtures: [DaemonFixture] = []
    private var directories: [String] = []
    /// A daemon configuration that keeps prepared roots and sandboxes made ahead for an hour, so that a test
    /// sees them go only for the reason it is about.
    let keptLong = "[sandbox]\nkeep_idle = \"1h\"\n"

    override func setUp() {
        super.setUp()
        signal(SIGPIPE, SIG_IGN)
    }

    override func tearDown() {
        for f in fixtures {
            f.stop()
            XCTAssertEqual(HostState.gloveboxCgroups(of: f), [], "cgroups left behind")
        }
        fixtures = []
        // After the test's own unmounts; never into a filesystem still mounted below.
        for dir in directories { _ = try? DaemonFixture.run(["/bin/rm", "-rf", "--one-file-system", dir]) }
        directories = []
        super.tearDown()
    }

    func fixture(policies: [String: String] = [:], config: String? = nil) throws -> DaemonFixture {
        let f = try DaemonFixture(policies: policies, config: config)
        fixtures.append(f)
        return f
    }

    /// A new directory of the host's, /var/tmp/glovebox-<name>.XXXXXX, that everyone may read (runs bind it),
    /// removed with what is in it after the test.
    func hostDirectory(_ name: String) throws -> String {
        var template = Array("/var/tmp/glovebox-\(name).XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("mkdtemp: \(String(cString: strerror(errno)))") }
        let dir = String(nulTerminated: template)
        directories.append(dir)
        XCTAssertEqual(chmod(dir, 0o755), 0)
        return dir
    }

    /// Writes `text` to `path` as a host's tools do, by renaming a new file over the old one (a new inode).
    func replaceByRename(_ path: String, with text: String) throws {
        try DaemonFixture.write(path + ".new", text)
        XCTAssertEqual(chmod(path + ".new", 0o644), 0)
        XCTAssertEqual(rename(path + ".new", path), 0, String(cString: strerror(errno)))
    }

    /// Sleeps until a prepared root taken now would be looked at again (PreparedRoots.recheckAfter).
    func waitPastRecheck(margin: Double = 0.2) {
        usleep(UInt32((PreparedRoots.recheckAfter + margin) * 1_000_000))
    }

    /// `glovebox <arguments>` against `f`, in the background.
    func spawnClient(_ f: DaemonFixture, _ arguments: [String], stderr: String = "/dev/null") throws -> pid_t {
        try DaemonFixture.spawn([DaemonFixture.glovebox] + arguments, stdout: "/dev/null", stderr: stderr, environment: ["GLOVEBOX_SOCKET": f.socket])
    }

    /// A client running `/bin/sleep <tag>` against `f`, returned once the sleep is running in its sandbox.
    func startSleeper(_ f: DaemonFixture) throws -> (client: pid_t, tag: String) {
        let tag = "\(Int.random(in: 100_000...999_999))"
        let client = try spawnClient(f, ["run", "--", "/bin/sleep", tag])
        let deadline = Date().addingTimeInterval(10)
        while HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty && Date() < deadline { usleep(20_000) }
        return (client, tag)
    }
}

extension XCTestCase {
    /// Whether `condition` holds within `seconds`, looked at every 20 ms.
    func eventually(_ seconds: Double = 10, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(20_000)
        }
        return try condition()
    }
}
