import GloveboxClient
import GloveboxProtocol
import Policy
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What the daemon refuses, and that it keeps serving whatever it is sent: looser limits, unknown
/// templates, unauthorised users, bad policies, empty commands, garbage on the socket.
final class AdmissionTests: DaemonTestCase {

    override class var policies: [String: String] {
        ["restricted": policy(users: #"["root"]"#), "broken": "[limits]\ntimeout = \"1m\"\nmemroy = \"256MiB\"\n"]
    }

    func refusal(_ outcome: DaemonFixture.Outcome, file: StaticString = #filePath, line: UInt = #line) -> String {
        XCTAssertNil(outcome.record, file: file, line: line)
        return outcome.error ?? ""
    }

    func testARequestLooserThanThePolicyIsRefusedOnEveryAxisNamingTheLimit() throws {
        let cases: [(LimitRequest, String, String)] = [
            (LimitRequest(timeoutSeconds: 3600), "timeout", "1m"),
            (LimitRequest(memoryBytes: 1 << 30), "memory", "256 MiB"),
            (LimitRequest(pids: 65), "pids", "64"),
            (LimitRequest(cpus: 2), "cpus", "1"),
            (LimitRequest(storageBytes: 1 << 30), "storage", "64 MiB"),
            (LimitRequest(gpus: 1), "gpus", "0"),
        ]
        for (request, limit, allowed) in cases {
            let message = refusal(daemon.run(["/bin/true"], template: "restricted", limits: request))
            XCTAssertTrue(message.contains(limit), "\(limit): \(message)")
            XCTAssertTrue(message.contains(allowed), "\(limit) should name the policy's \(allowed): \(message)")
        }
        let refused = try RecordStore(path: daemon.stateDir + "/glovebox.db").runs(status: .refused, limit: 100)
        XCTAssertGreaterThanOrEqual(refused.filter { $0.template == "restricted" }.count, cases.count, "every refusal is recorded")
    }

    func testTighterLimitsOnEveryAxisAreApplied() throws {
        let limits = LimitRequest(timeoutSeconds: 30, memoryBytes: 128 << 20, pids: 16, cpus: 0.5, storageBytes: 16 << 20, gpus: 0)
        let outcome = daemon.run(["/bin/true"], template: "restricted", limits: limits)
        let record = try XCTUnwrap(outcome.record, outcome.error ?? "")
        XCTAssertEqual(record.status, .ok)
        XCTAssertEqual(record.limits["timeout_seconds"], 30)
        XCTAssertEqual(record.limits["memory_bytes"], Double(128 << 20))
        XCTAssertEqual(record.limits["pids"], 16)
        XCTAssertEqual(record.limits["cpus"], 0.5)
        XCTAssertEqual(record.limits["storage_bytes"], Double(16 << 20))
    }

    func testAnUnknownTemplateIsRefusedListingTheKnownOnes() {
        let message = refusal(daemon.run(["/bin/true"], template: "nope"))
        XCTAssertTrue(message.contains("unknown template 'nope'"), message)
        XCTAssertTrue(message.contains("default"), message)
    }

    func testABrokenPolicyIsReportedWithItsLineAndTheOthersAreServed() {
        XCTAssertTrue(daemon.log.contains("broken.toml:3"), daemon.log)
        XCTAssertTrue(daemon.log.contains("memroy"), daemon.log)
        XCTAssertNotNil(refusal(daemon.run(["/bin/true"], template: "broken")))
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok)
    }

    func testAnEmptyCommandIsRefused() {
        XCTAssertTrue(refusal(daemon.run([])).contains("empty command"))
        XCTAssertTrue(refusal(daemon.run([""])).contains("empty command"))
        XCTAssertTrue(refusal(daemon.run(["/bin/echo", "a\0b"])).contains("NUL"))
    }

    func testAUserThePolicyDoesNotListIsRefusedAndOthersAreServed() throws {
        let nobody = try daemon.cli(["run", "--template", "restricted", "--", "/bin/true"], asUser: 65534)
        XCTAssertEqual(nobody.status, 125)
        XCTAssertTrue(nobody.stderr.contains("may not use template 'restricted'"), nobody.stderr)
        let allowed = try daemon.cli(["run", "--", "/usr/bin/id", "-u"], asUser: 65534)
        XCTAssertEqual(allowed.status, 0, allowed.stderr)
        XCTAssertNotEqual(allowed.stdout, "65534\n", "the program runs as the sandbox's uid, not the client's")
    }

    func testAnUnreadableWorkdirIsRefusedByTheClientItself() throws {
        let secret = daemon.scratch + "/secret"
        mkdir(secret, 0o700)
        let result = try daemon.cli(["run", "--workdir", secret, "--", "/bin/ls"], asUser: 65534)
        XCTAssertEqual(result.status, 125)
        XCTAssertTrue(result.stderr.contains("cannot open workdir"), result.stderr)
        XCTAssertTrue(result.stderr.contains("Permission denied"), result.stderr)
    }

    func testGarbageOnTheSocketGetsAnErrorAndTheDaemonKeepsServing() throws {
        let payloads: [[UInt8]] = [
            Array("GET / HTTP/1.1\r\n\r\n".utf8),                   // not a frame
            [0xFF, 0xFF, 0xFF, 0xFF, 1],                            // a 4 GiB frame
            [0, 0, 0, 0],                                           // zero length
            [0, 0, 0, 3, 1, 0x7B, 0x7D],                            // a run request of "{}": wrong shape
            [0, 0, 0, 2, 99, 0],                                    // unknown kind
            [0, 0, 0, 10, 1, 1, 2],                                 // truncated, then closed
        ]
        for bytes in payloads {
            let fd = try connect()
            defer { close(fd) }
            _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            shutdown(fd, Int32(SHUT_WR))
            var reply = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &reply, reply.count, 0)
            if n > 5 {
                XCTAssertEqual(reply[4], FrameKind.error.rawValue)
                XCTAssertTrue(String(decoding: reply[5..<n], as: UTF8.self).contains("bad request"))
            }
        }
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok, "the daemon keeps serving")
    }

    func testAClientThatSendsNothingIsDroppedWithoutHoldingOthersUp() throws {
        let idle = try connect()
        defer { close(idle) }
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok, "an idle connection holds up nobody")
    }

    func testADescriptorThatIsNotADirectoryIsRefused() throws {
        let fd = try connect()
        defer { close(fd) }
        let file = open("/etc/hostname", O_RDONLY)
        defer { close(file) }
        try FrameWriter.send(Wire.encode(.runRequest, RunRequest(template: "default", argv: ["/bin/true"], hasWorkdir: true)), to: fd, descriptor: file)
        let reader = FrameReader(fd: fd)
        let frame = try XCTUnwrap(try reader.next())
        XCTAssertEqual(frame.kind, .error)
        XCTAssertTrue(try Wire.decode(ErrorMessage.self, frame).message.contains("not a directory"))
    }

    func connect() throws -> Int32 {
        let connection = try DaemonConnection(path: daemon.socket)
        return connection.socket.release()
    }
}

extension AdmissionTests {
    func testARefusalIsRecordedAndWrittenWithRecord() throws {
        let path = daemon.scratch + "/refused.json"
        let result = try daemon.cli(["run", "--memory", "64GiB", "--record", path, "--", "/bin/true"])
        XCTAssertEqual(result.status, 125)
        XCTAssertTrue(result.stderr.contains("requested memory 64 GiB exceeds the policy's 1 GiB"), result.stderr)
        let record = try JSONDecoder().decode(RunRecord.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(record.status, .refused)
        XCTAssertTrue(record.message.contains("memory"), record.message)
    }

    func testAMistypedOptionIsAUsageErrorNotAProgram() throws {
        let result = try daemon.cli(["run", "--memroy", "1GiB", "--", "/bin/true"])
        XCTAssertEqual(result.status, 64)
        XCTAssertTrue(result.stderr.contains("--memroy"), result.stderr)
    }
}

extension AdmissionTests {
    func testManyIdleConnectionsAreCappedAndOthersStillServed() throws {
        var files = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        let saved = files
        files.rlim_cur = min(files.rlim_max, 4096)
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &files)
        defer { var r = saved; setrlimit(Int32(RLIMIT_NOFILE.rawValue), &r) }
        try XCTSkipIf(files.rlim_cur < 1200, "needs 1200 descriptors")
        var idle: [Int32] = []
        defer { idle.forEach { close($0) } }
        for _ in 0..<1100 { idle.append(try connect()) }
        // The ones past the cap were told so and closed.
        var refused = 0
        for fd in idle.suffix(50) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 2000) == 1 {
                var buffer = [UInt8](repeating: 0, count: 512)
                let n = recv(fd, &buffer, buffer.count, 0)
                if n > 5 && String(decoding: buffer[5..<n], as: UTF8.self).contains("try again later") { refused += 1 }
            }
        }
        XCTAssertGreaterThan(refused, 0)
        idle.prefix(1000).forEach { close($0) }
        idle.removeFirst(1000)
        // The idle ones are dropped after their 10 s; closing them frees their slots at once.
        let deadline = Date().addingTimeInterval(10)
        var outcome = daemon.run(["/bin/true"])
        while outcome.record == nil && Date() < deadline {
            usleep(100_000)
            outcome = daemon.run(["/bin/true"])
        }
        XCTAssertEqual(outcome.record?.status, .ok, outcome.error ?? "")
    }
}

extension AdmissionTests {
    func testWhatIsKeptOfARefusalIsBounded() throws {
        let huge = [String](repeating: String(repeating: "x", count: 10_000), count: 50)
        let outcome = daemon.run(["/bin/echo"] + huge, template: "nope")
        XCTAssertNotNil(outcome.error)
        let refused = try XCTUnwrap(try RecordStore(path: daemon.stateDir + "/glovebox.db").runs(status: .refused, limit: 1).first)
        XCTAssertLessThan(refused.argv.joined().utf8.count, 5000)
        XCTAssertTrue(refused.argv.last?.contains("51 arguments in all, cut") ?? false, "\(refused.argv.last ?? "")")
    }

    func testOneUserCannotTakeEveryConnection() throws {
        // One process of uid 65534 holds 70 idle connections; the daemon serves 64 of them at most.
        let holder = try DaemonFixture.spawn(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            "import socket, time\nheld = []\nfor _ in range(70):\n  s = socket.socket(socket.AF_UNIX); s.connect('\(daemon.socket)'); held.append(s)\nprint('held', flush=True)\ntime.sleep(8)"],
            stdout: daemon.scratch + "/holder.out", stderr: daemon.scratch + "/holder.err")
        defer { kill(holder, SIGKILL); waitpid(holder, nil, 0) }
        let deadline = Date().addingTimeInterval(10)
        while ((try? String(contentsOfFile: daemon.scratch + "/holder.out", encoding: .utf8)) ?? "").isEmpty && Date() < deadline { usleep(20_000) }
        let same = try daemon.cli(["run", "--", "/bin/true"], asUser: 65534)
        XCTAssertEqual(same.status, 125)
        XCTAssertTrue(same.stderr.contains("connections open"), same.stderr)
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok, "another user is still served")
    }
}

extension AdmissionTests {
    func testPolicyListAndShowSayWhatAUserMayUse() throws {
        let nobody = try daemon.cli(["policy", "list"], asUser: 65534)
        XCTAssertEqual(nobody.status, 0, nobody.stderr)
        XCTAssertTrue(nobody.stdout.contains("restricted (not for you)"), nobody.stdout)
        XCTAssertTrue(nobody.stdout.contains("default  timeout 10m, memory 1 GiB"), nobody.stdout)
        XCTAssertFalse(nobody.stdout.contains("broken"), "a refused file is not served")
        let show = try daemon.cli(["policy", "show", "--json", "restricted"])
        XCTAssertTrue(show.stdout.contains("\"usable\" : true"), show.stdout)
        XCTAssertEqual(try daemon.cli(["policy", "show", "nope"]).status, 125)
    }
}
