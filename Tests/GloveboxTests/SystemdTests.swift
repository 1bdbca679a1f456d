import Digests
import GloveboxClient
import GloveboxSystem
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Running under systemd: socket activation (the sd_listen_fds protocol, driven by a small launcher in
/// place of systemd, which is not PID 1 here) and the unit files themselves.
final class SystemdTests: XCTestCase {
    private var scratch: String?
    private var daemons: [pid_t] = []
    private var stateDirectories: [String] = []

    override func setUp() { signal(SIGPIPE, SIG_IGN) }

    override func tearDown() {
        for pid in daemons where pid > 0 {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
        daemons = []
        for state in stateDirectories {
            XCTAssertEqual(Self.cgroups(ofStateDirectory: state), [], "cgroups left behind")
        }
        stateDirectories = []
        if let scratch { _ = try? DaemonFixture.run(["/bin/rm", "-rf", scratch]) }
        scratch = nil
    }

    // MARK: - Socket activation

    /// What systemd does for a socket unit, in a few lines: bind and listen (a stream socket, or with
    /// "dgram" a datagram one), put the sockets at descriptors 3, 4, ... without close-on-exec, set
    /// LISTEN_FDS and LISTEN_PID (this very process, which execs gloveboxd and so keeps its pid) and exec.
    static let launcher = """
        import os, socket, sys
        path, count, kind = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        sockets = []
        for i in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM if kind == "dgram" else socket.SOCK_STREAM)
            p = path if i == 0 else "%s.%d" % (path, i)
            s.bind(p)
            os.chmod(p, 0o666)
            if kind != "dgram":
                s.listen(16)
            sockets.append(s)
        for i, s in enumerate(sockets):
            if s.fileno() != 3 + i:
                os.dup2(s.fileno(), 3 + i)
            os.set_inheritable(3 + i, True)
        env = dict(os.environ, LISTEN_FDS=str(count), LISTEN_PID=str(os.getpid()), LISTEN_FDNAMES="glovebox")
        os.execve(sys.argv[4], sys.argv[4:], env)
        """

    private func makeScratch() throws -> String {
        var template = Array("/var/tmp/glovebox-systemd-test.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw ClientError("mkdtemp: \(String(cString: strerror(errno)))") }
        let dir = String(nulTerminated: template)
        scratch = dir
        chmod(dir, 0o755)
        mkdir(dir + "/policies", 0o755)
        try DaemonFixture.write(dir + "/policies/default.toml", try String(contentsOfFile: DaemonFixture.repositoryRoot + "/policies/default.toml", encoding: .utf8))
        try DaemonFixture.write(dir + "/launch.py", Self.launcher)
        return dir
    }

    /// The launcher's argv for a gloveboxd with its state and policies in `dir`.
    private func activatedDaemon(_ dir: String, socket: String, count: Int, kind: String = "stream", state: String) -> [String] {
        stateDirectories.append(state)
        return ["/usr/bin/python3", dir + "/launch.py", socket, String(count), kind, DaemonFixture.gloveboxd,
                "--state-dir", state, "--policy-dir", dir + "/policies", "--log-level", "debug"]
    }

    /// This test's cgroup directories for a daemon with that state directory (named as the daemon names them).
    static func cgroups(ofStateDirectory state: String) -> [String] {
        let name = "glovebox-" + String(sha256Hex(Array(state.utf8)).prefix(12))
        let (_, out, _) = (try? DaemonFixture.run(["/usr/bin/find", "/sys/fs/cgroup", "-maxdepth", "6", "-type", "d", "-name", name])) ?? (0, "", "")
        return out.split(separator: "\n").map(String.init)
    }

    func testASocketPassedBySystemdIsServedAndLeftInPlace() throws {
        let dir = try makeScratch()
        let socket = dir + "/glovebox.sock", log = dir + "/gloveboxd.log"
        let pid = try DaemonFixture.spawn(activatedDaemon(dir, socket: socket, count: 1, state: dir + "/state"), stdout: log, stderr: log)
        daemons.append(pid)
        var text = ""
        let deadline = Date().addingTimeInterval(20)
        while !text.contains("socket-activated") {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                daemons.removeAll { $0 == pid }
                return XCTFail("gloveboxd exited at start (status \(status)):\n\(text)")
            }
            if Date() > deadline { return XCTFail("gloveboxd did not report socket activation:\n\(text)") }
            usleep(20_000)
            text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        }
        XCTAssertTrue(text.contains("socket=\(socket)"), "the log names the passed socket:\n\(text)")

        let result = try DaemonFixture.run([DaemonFixture.glovebox, "run", "--socket", socket, "--", "/bin/true"])
        XCTAssertEqual(result.status, 0, result.stderr + "\n" + ((try? String(contentsOfFile: log, encoding: .utf8)) ?? ""))

        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        daemons.removeAll { $0 == pid }
        text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertEqual(status, 0, "gloveboxd exits cleanly on SIGTERM:\n\(text)")
        XCTAssertTrue(text.contains("stopped"), text)
        var st = stat()
        XCTAssertEqual(lstat(socket, &st), 0, "the socket systemd owns is not removed")
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(Self.cgroups(ofStateDirectory: dir + "/state"), [], "SIGTERM removes the daemon's cgroups")
    }

    func testMoreThanOnePassedSocketIsAStartupError() throws {
        let dir = try makeScratch()
        let result = try DaemonFixture.run(activatedDaemon(dir, socket: dir + "/two.sock", count: 2, state: dir + "/state"))
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("LISTEN_FDS=2") && result.stderr.contains("exactly one socket"), result.stderr)
        XCTAssertEqual(Self.cgroups(ofStateDirectory: dir + "/state"), [], "a failed start removes its cgroups")
    }

    func testAPassedDatagramSocketIsAStartupError() throws {
        let dir = try makeScratch()
        let result = try DaemonFixture.run(activatedDaemon(dir, socket: dir + "/dgram.sock", count: 1, kind: "dgram", state: dir + "/state"))
        XCTAssertEqual(result.status, 1, result.stderr)
        XCTAssertTrue(result.stderr.contains("not a SOCK_STREAM socket"), result.stderr)
    }

    func testLISTENPIDOfAnotherProcessIsIgnored() throws {
        // The variables were meant for a parent (systemd passes them to the process it starts): gloveboxd
        // binds its own socket as usual.
        let dir = try makeScratch()
        let socket = dir + "/own.sock", log = dir + "/own.log"
        stateDirectories.append(dir + "/state")
        let pid = try DaemonFixture.spawn([DaemonFixture.gloveboxd, "--socket", socket, "--state-dir", dir + "/state", "--policy-dir", dir + "/policies"],
                                          stdout: log, stderr: log,
                                          environment: ["PATH": "/usr/bin:/bin", "LISTEN_PID": "1", "LISTEN_FDS": "1"])
        daemons.append(pid)
        let deadline = Date().addingTimeInterval(20)
        while access(socket, F_OK) != 0 {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                daemons.removeAll { $0 == pid }
                return XCTFail("gloveboxd exited at start (status \(status)):\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
            }
            if Date() > deadline { return XCTFail("no socket:\n\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
            usleep(20_000)
        }
        let result = try DaemonFixture.run([DaemonFixture.glovebox, "run", "--socket", socket, "--", "/bin/true"])
        XCTAssertEqual(result.status, 0, result.stderr)
        kill(pid, SIGTERM)
        waitpid(pid, nil, 0)
        daemons.removeAll { $0 == pid }
        XCTAssertNotEqual(access(socket, F_OK), 0, "a socket gloveboxd bound itself is removed at stop")
        XCTAssertFalse(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("socket-activated"))
    }

    // MARK: - Unit files

    private func unit(_ name: String) throws -> String {
        try String(contentsOfFile: DaemonFixture.repositoryRoot + "/systemd/" + name, encoding: .utf8)
    }

    func testTheServiceDelegatesItsCgroupAndExplainsEveryOption() throws {
        let service = try unit("gloveboxd.service")
        let lines = service.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(lines.contains("Delegate=yes"))
        XCTAssertTrue(lines.contains("KillMode=mixed"))
        XCTAssertTrue(lines.contains("Requires=gloveboxd.socket"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("After=") && $0.contains("gloveboxd.socket") })
        XCTAssertTrue(lines.contains("ExecStart=/usr/local/bin/gloveboxd"))
        for option in ["RestrictNamespaces=", "PrivateDevices=", "ProtectKernelTunables=", "ProtectControlGroups=", "SystemCallFilter=", "PrivateUsers="] {
            XCTAssertFalse(lines.contains { $0.hasPrefix(option) }, "\(option) would break the sandboxes")
        }
        var options = 0
        for (i, line) in lines.enumerated() where !line.isEmpty && !line.hasPrefix("#") && !line.hasPrefix("[") {
            options += 1
            XCTAssertTrue(line.range(of: #"^[A-Za-z]+="#, options: .regularExpression) != nil, "not an option line: \(line)")
            XCTAssertTrue(lines[max(0, i - 3)..<i].contains { $0.hasPrefix("#") }, "no comment within 3 lines above: \(line)")
        }
        XCTAssertGreaterThan(options, 10)
    }

    func testTheSocketUnitListensWhereClientsLook() throws {
        let socket = try unit("gloveboxd.socket")
        let lines = socket.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertTrue(lines.contains("ListenStream=/run/glovebox/glovebox.sock"))
        XCTAssertTrue(lines.contains("SocketMode=0666"))
        XCTAssertTrue(lines.contains { $0.hasPrefix("#") })
    }
}

/// The shipped unit, proven under a real systemd (252, cgroup v2, the VM booted with systemd as PID 1):
/// scripts/install.sh stages the tree (DESTDIR, the debug build as it is), Tests/systemd/unit-check.sh
/// installs it inside the VM, starts gloveboxd.socket and runs sandboxes through socket activation, as
/// root and as nobody: an OOM, a timeout, a workdir on an ext4 loop mount; it reads the journal, restarts
/// the service with a run in flight, stops it and looks for anything left in the unit's cgroup.
final class SystemdUnitVMTests: XCTestCase {
    static let steps = ["socket-starts", "activation", "service-active", "unprivileged-client", "oom", "timeout", "workdir-ext4",
                        "restart", "in-flight-cancelled", "after-restart", "cancel-recorded", "journal", "stop", "nothing-left"]

    func testTheShippedUnitRunsSandboxesUnderSystemd() throws {
        guard let v2vm = try CgroupV2VMTests.runner() else { return }
        var template = Array("/var/tmp/glovebox-unit.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw ClientError("mkdtemp failed") }
        let stage = String(nulTerminated: template)
        defer { _ = try? DaemonFixture.run(["/bin/rm", "-rf", stage]) }
        chmod(stage, 0o755)
        let root = DaemonFixture.repositoryRoot
        let staged = try DaemonFixture.run(["/bin/bash", root + "/scripts/install.sh"],
                                           environment: ["PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "DESTDIR": stage, "PREBUILT": DaemonFixture.buildDirectory])
        XCTAssertEqual(staged.status, 0, staged.stdout + staged.stderr)
        var environment = ["PATH": "/usr/bin:/bin", "V2VM_SYSTEMD": "1", "V2VM_TIMEOUT": "900", "LANG": "C.UTF-8"]
        for name in ["V2VM_CACHE", "V2VM_MEM", "V2VM_SMP"] { environment[name] = ProcessInfo.processInfo.environment[name] }
        let started = Date()
        let result = try DaemonFixture.run([v2vm, "/bin/bash", root + "/Tests/systemd/unit-check.sh", stage], environment: environment)
        print("v2vm (systemd): the unit check took \(Int(Date().timeIntervalSince(started))) s")
        let output = result.stdout + result.stderr
        XCTAssertEqual(result.status, 0, "the VM failed (125) or the script did:\n\(output)")
        for step in Self.steps {
            XCTAssertTrue(output.contains("STEP \(step) ok\n"), "step \(step):\n" + output.split(separator: "\n").filter { $0.hasPrefix("STEP \(step) ") }.joined(separator: "\n"))
        }
        XCTAssertTrue(output.contains("DONE"), output)
    }
}
