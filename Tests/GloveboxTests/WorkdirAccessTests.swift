import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Inside a run, the workdir is exactly as accessible as it is to the client: not more (a directory the
/// client cannot search is refused), and not less (a non-root client whose directory's group is another,
/// a group-shared setgid directory, files of a second user).
final class WorkdirAccessTests: FixturesTestCase {
    static let nobody: uid_t = 65534
    static let sharedGroup: gid_t = 4242
    static let secondUser: uid_t = 4243

    /// `argv` as uid nobody (gid nobody) with the supplementary groups `groups`, as its own command or as a
    /// run of `glovebox run --workdir dir`; status and stdout+stderr.
    func asNobody(_ argv: [String], groups: [gid_t] = [], workdir: String? = nil, _ f: DaemonFixture? = nil) throws -> (status: Int32, output: String) {
        var command = argv
        if let workdir, let f { command = [DaemonFixture.glovebox, "run", "--socket", f.socket, "--workdir", workdir, "--"] + argv }
        let groupOption = groups.isEmpty ? "--clear-groups" : "--groups=" + groups.map(String.init).joined(separator: ",")
        let out = try DaemonFixture.run(["/usr/bin/setpriv", "--reuid=\(Self.nobody)", "--regid=\(Self.nobody)", groupOption, "--"] + command)
        return (out.status, out.stdout + out.stderr)
    }

    func make(_ path: String, owner: uid_t, group: gid_t, mode: mode_t, contents: String? = nil) throws {
        if let contents { try DaemonFixture.write(path, contents) } else { XCTAssertEqual(mkdir(path, 0o700), 0) }
        XCTAssertEqual(chown(path, owner, group), 0)
        XCTAssertEqual(chmod(path, mode), 0)
    }

    func testANonRootClientReadsItsWorkdirWhoseGroupIsNotItsOwn() throws {
        let base = try hostDirectory("workdir-group")
        for mode: mode_t in [0o700, 0o750] {
            let dir = base + "/w\(String(mode, radix: 8))"
            try make(dir, owner: Self.nobody, group: 0, mode: mode)
            try make(dir + "/e.py", owner: Self.nobody, group: 0, mode: 0o644, contents: "print('hi')\n")
            let f = try fixture()
            let inside = try asNobody(["/bin/cat", "/workspace/e.py"], workdir: dir, f)
            XCTAssertEqual(inside.status, 0, inside.output)
            XCTAssertEqual(inside.output, "print('hi')\n")
        }
    }

    func testAGroupSharedSetgidDirectoryIsAsOpenInsideAsOutside() throws {
        let dir = try hostDirectory("workdir-shared") + "/project"
        try make(dir, owner: 0, group: Self.sharedGroup, mode: 0o2770)
        try make(dir + "/shared.txt", owner: Self.secondUser, group: Self.sharedGroup, mode: 0o660, contents: "for the group\n")
        try make(dir + "/private.txt", owner: Self.secondUser, group: Self.sharedGroup, mode: 0o600, contents: "for its owner\n")
        try make(dir + "/mine.txt", owner: Self.nobody, group: Self.sharedGroup, mode: 0o640, contents: "the client's\n")
        let f = try fixture()
        let script = "cat shared.txt; cat mine.txt; cat private.txt 2>/dev/null || echo private:denied; echo new > made.txt && echo made"
        let outside = try asNobody(["/bin/sh", "-c", "cd \(dir) && " + script], groups: [Self.sharedGroup])
        let inside = try asNobody(["/bin/sh", "-c", script], groups: [Self.sharedGroup], workdir: dir, f)
        XCTAssertEqual(outside.output, "for the group\nthe client's\nprivate:denied\nmade\n", "the test's own control")
        XCTAssertEqual(inside.output, outside.output)
        // Without the group, neither can enter.
        XCTAssertNotEqual(try asNobody(["/bin/true"], workdir: dir, f).status, 0)
        let groups = try asNobody(["/usr/bin/id", "-G"], groups: [Self.sharedGroup], workdir: dir, f)
        XCTAssertTrue(groups.output.split(separator: " ").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.contains("\(Self.sharedGroup)"),
                      groups.output)
    }

    /// Finding 6: a directory the client may list but not search would be entirely readable by its run,
    /// whose workspace's top is its own.
    func testAWorkdirTheClientCannotSearchIsRefused() throws {
        let dir = try hostDirectory("workdir-search") + "/listable"
        try make(dir, owner: Self.secondUser, group: Self.secondUser, mode: 0o744)
        try make(dir + "/secret.txt", owner: Self.secondUser, group: Self.secondUser, mode: 0o644, contents: "not for others\n")
        XCTAssertNotEqual(try asNobody(["/bin/cat", dir + "/secret.txt"]).status, 0, "the test's own control: the client cannot read it")
        let f = try fixture()
        let inside = try asNobody(["/bin/cat", "/workspace/secret.txt"], workdir: dir, f)
        XCTAssertEqual(inside.status, 125, inside.output)
        XCTAssertTrue(inside.output.contains("the workdir may not be both read and searched by uid 65534"), inside.output)
        XCTAssertFalse(inside.output.contains("not for others"))
    }
}
