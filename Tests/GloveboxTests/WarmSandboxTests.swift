import GloveboxSystem
@testable import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Warm sandboxes (WarmSandboxes), setup children made ahead of need: the end of a run makes the next run's setup child,
/// which waits as root in fresh namespaces and cgroups of its own until a run takes it, and is let go
/// once it has waited `[sandbox] keep_idle`, or when a run finds that its root no longer serves. It must take the run's limits before the run's program starts,
/// die with the daemon, and leave nothing behind.
final class WarmSandboxTests: FixturesTestCase {
    /// The processes in this daemon's sandboxes made ahead: those in a cgroup named spare-N.
    private func waiting(_ f: DaemonFixture) throws -> [pid_t] {
        var pids = Set<pid_t>()
        for dir in try f.cgroupDirectories("spare-*") {
            let text = (try? String(contentsOfFile: dir + "/cgroup.procs", encoding: .utf8)) ?? ""
            pids.formUnion(text.split(separator: "\n").compactMap { pid_t($0) })
        }
        return pids.sorted()
    }

    private func status(_ pid: pid_t, _ key: String) -> String? {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(key + ":") }.map { $0.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    private func namespace(_ pid: pid_t, _ kind: String) -> String? { FileIO.readLink("/proc/\(pid)/ns/\(kind)") }

    private func alive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    /// The pid of the run's `/bin/sleep <tag>` (startSleeper).
    private func sleeper(_ tag: String) -> pid_t? {
        HostState.processes(containing: "^/bin/sleep \(tag)").first?.split(separator: " ").first.flatMap { pid_t($0) }
    }

    /// The one sandbox made ahead, once it waits for a run: blocked in recvmsg (47 on x86_64) on its
    /// control socket, after it has reported ready.
    private func readySandbox(_ f: DaemonFixture) throws -> pid_t? {
        var found: pid_t?
        _ = try eventually {
            let pids = try waiting(f)
            guard pids.count == 1 else { return false }
            let call = (try? String(contentsOfFile: "/proc/\(pids[0])/syscall", encoding: .utf8)) ?? ""
            found = call.hasPrefix("47 ") ? pids[0] : nil
            return found != nil
        }
        return found
    }

    func testTheNextRunTakesTheSandboxMadeAheadWithItsOwnLimitsAndAnOldOneIsLetGo() throws {
        let f = try fixture(config: "[sandbox]\nkeep_idle = \"2s\"\n")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let child = try XCTUnwrap(try readySandbox(f), "one sandbox made ahead, waiting: \((try? waiting(f)) ?? [])")
        // Once through its first part, waiting as root in namespaces of its own: none is the daemon's.
        let kinds = ["pid", "net", "mnt", "ipc", "uts"]
        XCTAssertTrue(eventually { kinds.allSatisfy { namespace(child, $0) != namespace(f.pid, $0) } },
                      "\(kinds.filter { namespace(child, $0) == namespace(f.pid, $0) }) shared with the daemon")
        XCTAssertEqual(status(child, "Uid")?.split(separator: "\t").first, "0")

        let tag = "\(Int.random(in: 100_000...999_999))"
        let client = try spawnClient(f, ["run", "--memory", "150M", "--pids", "33", "--", "/bin/sleep", tag])
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        XCTAssertTrue(eventually { !HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty })
        // It became the run's init, as the run's user, with the run's limits on its cgroups.
        XCTAssertEqual((try? String(contentsOfFile: "/proc/\(child)/comm", encoding: .utf8)), "glovebox-init\n")
        XCTAssertNotEqual(status(child, "Uid")?.split(separator: "\t").first, "0")
        let sleeper = try XCTUnwrap(sleeper(tag))
        XCTAssertEqual(status(sleeper, "PPid"), "\(child)", "the program is the child's")
        // Made at a lower priority than runs, it runs the program at the daemon's own.
        let nice = { (pid: pid_t) in (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: ")").last?.split(separator: " ")[16] }
        XCTAssertEqual(nice(sleeper), nice(f.pid), "the program's nice value is the daemon's")
        let cgroups = (try? String(contentsOfFile: "/proc/\(child)/cgroup", encoding: .utf8)) ?? ""
        if CgroupHierarchy.isCgroup2("/sys/fs/cgroup") {
            let path = try XCTUnwrap(cgroups.split(separator: "\n").first { $0.hasPrefix("0::") }).dropFirst(3)
            XCTAssertEqual(try String(contentsOfFile: "/sys/fs/cgroup\(path)/memory.max", encoding: .utf8), "\(150 << 20)\n")
            XCTAssertEqual(try String(contentsOfFile: "/sys/fs/cgroup\(path)/pids.max", encoding: .utf8), "33\n")
        } else {
            let memory = try XCTUnwrap(cgroups.split(separator: "\n").first { $0.contains(":memory:") }).split(separator: ":")[2]
            let pids = try XCTUnwrap(cgroups.split(separator: "\n").first { $0.contains(":pids:") }).split(separator: ":")[2]
            XCTAssertTrue(memory.hasSuffix("/run-2"), "renamed to the run's: \(memory)")
            XCTAssertEqual(try String(contentsOfFile: "/sys/fs/cgroup/memory\(memory)/memory.limit_in_bytes", encoding: .utf8), "\(150 << 20)\n")
            XCTAssertEqual(try String(contentsOfFile: "/sys/fs/cgroup/pids\(pids)/pids.max", encoding: .utf8), "33\n")
        }
        kill(client, SIGINT)  // cancels the run
        waitpid(client, nil, 0)

        // Its end makes the next one; not taken, that one is let go after keep_idle (2 s): nothing is left.
        XCTAssertTrue(try eventually { try waiting(f).count == 1 }, "made again after the run")
        let next = try waiting(f)[0]
        XCTAssertTrue(try eventually(5) { try f.cgroupDirectories("spare-*").filter { $0.contains("/unified/") || CgroupHierarchy.isCgroup2("/sys/fs/cgroup") }.isEmpty && !alive(next) },
                      "let go: \((try? waiting(f)) ?? [])")
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok, "a run without one makes its own")
    }

    func testASandboxMadeAheadDiesWithTheDaemonAndIsRemovedAtTheNextStart() throws {
        let f = try fixture()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        f.stopDaemon(signal: SIGKILL)
        // Its parent-death signal: nothing of a sandbox outlives the daemon.
        XCTAssertTrue(eventually { !alive(made) }, "the waiting child died with the daemon")
        try f.start()
        XCTAssertTrue(try eventually { try waiting(f).isEmpty })
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }

    func testARunInASandboxMadeAheadDiesWithTheDaemon() throws {
        let f = try fixture()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        // Taken by this run: its init's parent is the thread that made it, which stays until the run ends.
        let (client, tag) = try startSleeper(f)
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        let sleeper = try XCTUnwrap(sleeper(tag))
        XCTAssertEqual(status(sleeper, "PPid"), "\(made)", "the run took the sandbox made ahead")
        f.stopDaemon(signal: SIGKILL)
        XCTAssertTrue(eventually { HostState.processes(containing: "^/bin/sleep \(tag)").isEmpty }, "the run died with the daemon")
        try f.start()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }

    func testAStoppingDaemonLetsItsSandboxesGoAndRemovesTheirCgroups() throws {
        let f = try fixture()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        XCTAssertEqual(f.stopDaemon(signal: SIGTERM), 0, f.log)
        XCTAssertFalse(alive(made))
        XCTAssertEqual(HostState.gloveboxCgroups(of: f), [])
    }

    /// The race a test cannot place from outside, placed by a fault: the sandbox is killed after the run
    /// took it and before the hand-over, which then fails; the run starts in a child of its own.
    func testARunWhoseSandboxDiesBeforeTheHandOverStartsInAChildOfItsOwn() throws {
        let f = try fixture()
        try f.restart(environment: ["GLOVEBOX_FAULT": "spare-gone"])
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        _ = try XCTUnwrap(try readySandbox(f))
        let result = f.run(["/bin/sh", "-c", "echo started"])
        XCTAssertEqual(result.record?.status, .ok, f.log)
        XCTAssertTrue(f.log.contains("a warm sandbox was gone"), f.log)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }

    /// An agent's next run comes after it has thought for a while: a run after more than
    /// PreparedRoots.recheckAfter idle, with nothing changed on the host, still takes the sandbox made ahead.
    func testARunAfterAPauseTakesTheSandboxMadeAhead() throws {
        let f = try fixture(config: keptLong)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        waitPastRecheck(margin: 0.5)
        XCTAssertTrue(alive(made), "kept while idle")
        let (client, tag) = try startSleeper(f)
        defer { kill(client, SIGKILL); waitpid(client, nil, 0) }
        let sleeper = try XCTUnwrap(sleeper(tag))
        XCTAssertEqual(status(sleeper, "PPid"), "\(made)", "the run's init is the sandbox made before the pause")
    }

    /// A sandbox made ahead is a copy of its root: once the host has changed under the policy's paths, the
    /// run that finds it lets it go and starts in a child of its own, from a root built again.
    func testASandboxMadeAheadOfAnOutOfDateRootIsLetGo() throws {
        let dir = try hostDirectory("spare-view")
        try DaemonFixture.write(dir + "/note", "first\n")
        XCTAssertEqual(chmod(dir + "/note", 0o644), 0)
        let f = try fixture(policies: ["note": DaemonTestCase.policy(readOnly: dir + "/note")], config: keptLong)
        XCTAssertEqual(f.run(["/bin/true"], template: "note").record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        try replaceByRename(dir + "/note", with: "second\n")
        waitPastRecheck()
        let outcome = f.run(["/bin/cat", dir + "/note"], template: "note")
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr + f.log.suffix(2000))
        XCTAssertEqual(outcome.stdout, "second\n")
        XCTAssertTrue(eventually { !alive(made) }, "the out-of-date sandbox was let go")
    }

    /// Roots are kept for at most PreparedRoots.capacity kinds at once: a sandbox made ahead from a root let
    /// go to make room could serve no run, and is let go with it rather than waiting out keep_idle.
    func testASandboxMadeAheadIsLetGoWithItsRootWhenRootsMakeRoom() throws {
        let dir = try hostDirectory("evict")
        let kinds = PreparedRoots.capacity + 1
        var policies: [String: String] = [:]
        for n in 0..<kinds {
            XCTAssertEqual(mkdir(dir + "/d\(n)", 0o755), 0)
            policies["p\(n)"] = DaemonTestCase.policy(readOnly: dir + "/d\(n)")
        }
        let f = try fixture(policies: policies, config: keptLong)
        var first: pid_t?
        for n in 0..<(kinds - 1) {
            XCTAssertEqual(f.run(["/bin/true"], template: "p\(n)").record?.status, .ok, String(f.log.suffix(2000)))
            XCTAssertTrue(try eventually { try waiting(f).count == n + 1 }, "one waiting for each kind: \((try? waiting(f)) ?? [])")
            if n == 0 { first = try waiting(f).first }
        }
        let oldest = try XCTUnwrap(first)
        XCTAssertTrue(alive(oldest))
        // One kind more: the root unused longest (p0's) makes room, and its sandbox made ahead goes with it.
        XCTAssertEqual(f.run(["/bin/true"], template: "p\(kinds - 1)").record?.status, .ok, String(f.log.suffix(2000)))
        XCTAssertTrue(eventually { !alive(oldest) }, "the sandbox of the root let go still waits")
        XCTAssertTrue(try eventually { try waiting(f).count == kinds - 1 }, "\((try? waiting(f)) ?? [])")
        XCTAssertEqual(f.run(["/bin/true"], template: "p0").record?.status, .ok, "its kind makes a root again")
    }

    func testARunStillStartsWhenItsSandboxMadeAheadWasKilled() throws {
        let f = try fixture()
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
        let made = try XCTUnwrap(try readySandbox(f))
        kill(made, SIGKILL)
        XCTAssertEqual(f.run(["/bin/sh", "-c", "echo started"]).record?.status, .ok, f.log)
        XCTAssertEqual(f.run(["/bin/true"]).record?.status, .ok)
    }
}
