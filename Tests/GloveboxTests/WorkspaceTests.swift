import Policy
import Records
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The copy-on-write workspace and the way outputs come back: only named paths, only regular files and
/// directories, under the size cap, written by the client as the client, never through a link.
final class WorkspaceTests: DaemonTestCase {
    var workdir = ""

    override class var policies: [String: String] { ["small": policy(extra: "output_file = \"1KiB\"\nlog = \"64KiB\"")] }

    override func setUpWithError() throws {
        workdir = daemon.scratch + "/work-\(UUID().uuidString.prefix(8))"
        XCTAssertEqual(mkdir(workdir, 0o755), 0)
        try DaemonFixture.write(workdir + "/input.txt", "hello\n")
    }

    func contents(_ path: String) -> String? { try? String(contentsOfFile: workdir + "/" + path, encoding: .utf8) }

    func testTheProgramSeesTheWorkdirAndNothingReachesItWithoutOutputs() throws {
        let outcome = daemon.run(["/bin/sh", "-c", "cat input.txt && echo new > made.txt && rm input.txt && pwd"], workdir: workdir)
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        XCTAssertEqual(outcome.stdout, "hello\n/workspace\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workdir), ["input.txt"])
        XCTAssertEqual(contents("input.txt"), "hello\n")
    }

    func testTheRunOwnsTheClientsFilesInItsCopyAndChangesThemFreely() throws {
        // The workdir belongs to the client (nobody here); through an idmapped layer its files belong to the
        // run's uid inside, so the run can edit them, copy-on-write, and the edit comes back as the client's.
        mkdir(workdir + "/data", 0o755)
        try DaemonFixture.write(workdir + "/data/log.txt", "old\n")
        XCTAssertEqual(try DaemonFixture.run(["/bin/chown", "-R", "65534:65534", workdir]).status, 0)
        let result = try daemon.cli(["run", "--workdir", workdir, "--output", "data", "--", "/bin/sh", "-c",
                                     "echo new >> data/log.txt && echo made > data/new.txt && stat -c %u data/log.txt && id -u"], asUser: 65534)
        XCTAssertEqual(result.status, 0, result.stderr)
        let ids = result.stdout.split(separator: "\n")
        XCTAssertEqual(ids.count, 2)
        XCTAssertEqual(ids.first, ids.last, "the client's file appears owned by the run's uid")
        XCTAssertEqual(contents("data/log.txt"), "old\nnew\n")
        XCTAssertEqual(contents("data/new.txt"), "made\n")
        var st = stat()
        XCTAssertEqual(stat(workdir + "/data/new.txt", &st), 0)
        XCTAssertEqual(st.st_uid, 65534)
    }

    func testNamedOutputsComeBackAndOthersDoNot() throws {
        let script = "mkdir -p out/sub && echo a > out/a && echo b > out/sub/b && echo c > other.txt && chmod 4755 out/a"
        let outcome = daemon.run(["/bin/sh", "-c", script], workdir: workdir, outputs: ["out"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        XCTAssertEqual(contents("out/a"), "a\n")
        XCTAssertEqual(contents("out/sub/b"), "b\n")
        XCTAssertNil(contents("other.txt"))
        var st = stat()
        XCTAssertEqual(stat(workdir + "/out/a", &st), 0)
        XCTAssertEqual(st.st_mode & 0o7000, 0, "no setuid bit comes out")
    }

    func testLinksFifosAndOversizeFilesAreNotCarriedOut() throws {
        let script = "mkdir out && ln -s /etc/shadow out/link && mkfifo out/fifo && head -c 2048 /dev/zero > out/big && echo ok > out/small"
        let outcome = daemon.run(["/bin/sh", "-c", script], template: "small", workdir: workdir, outputs: ["out"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: workdir + "/out"), ["small"])
    }

    func testOutputsAreWrittenByTheClientAsItsOwnUser() throws {
        XCTAssertEqual(chown(workdir, 65534, 65534), 0)
        let result = try daemon.cli(["run", "--workdir", workdir, "--output", "result.txt", "--", "/bin/sh", "-c", "echo r > result.txt"], asUser: 65534)
        XCTAssertEqual(result.status, 0, result.stderr)
        var st = stat()
        XCTAssertEqual(stat(workdir + "/result.txt", &st), 0)
        XCTAssertEqual(st.st_uid, 65534, "written by the client's user, not by root")
    }

    func testAnOutputIsNeverWrittenThroughALinkInTheWorkdir() throws {
        let victim = daemon.scratch + "/victim-\(UUID().uuidString.prefix(8))"
        mkdir(victim, 0o755)
        XCTAssertEqual(symlink(victim, workdir + "/res"), 0)
        let outcome = daemon.run(["/bin/sh", "-c", "rm res && mkdir res && echo x > res/a"], workdir: workdir, outputs: ["res"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: victim), [], "nothing lands behind the link")
    }

    func testOutputPathsThatLeaveTheWorkdirAreRefused() {
        for path in ["../escape", "/etc/passwd", "a/../../b", ""] {
            let outcome = daemon.run(["/bin/true"], workdir: workdir, outputs: [path])
            XCTAssertNil(outcome.record, path)
            XCTAssertTrue(outcome.error?.contains("relative path") ?? false, "\(path): \(outcome.error ?? "")")
        }
    }
}

extension WorkspaceTests {
    func testADeepTreeOfOutputsIsCutAndTheDaemonKeepsServing() throws {
        let script = "import os\nos.mkdir('d'); os.chdir('d')\nfor _ in range(1500): os.mkdir('a'); os.chdir('a')\nos.chdir('/workspace')\nopen('d/a/top.txt', 'w').write('top')"
        let outcome = daemon.run([python, "-c", script], workdir: workdir, outputs: ["d"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr + (outcome.error ?? ""))
        XCTAssertEqual(contents("d/a/top.txt"), "top")
        XCTAssertEqual(daemon.run(["/bin/true"]).record?.status, .ok, "the daemon survives")
    }

    func testSparseFilesCannotInflateWhatComesOut() throws {
        // 40 sparse files of 1 MiB each under an 8 MiB storage cap: at most 8 MiB comes back.
        let script = "import os\nos.mkdir('out')\nfor i in range(40):\n  f = open(f'out/{i:02d}', 'wb'); f.truncate(1 << 20); f.close()"
        let outcome = daemon.run([python, "-c", script], limits: .init(storageBytes: 8 << 20), workdir: workdir, outputs: ["out"])
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stderr)
        let names = try FileManager.default.contentsOfDirectory(atPath: workdir + "/out")
        XCTAssertEqual(names.count, 8, "\(names)")
    }

    func testAWorkdirThatCannotBeIdmappedIsRefused() {
        // The overlay would copy a renamed file up with the daemon's credentials: no plain fallback.
        let outcome = daemon.run(["/bin/true"], workdir: "/sys/kernel")
        XCTAssertEqual(outcome.record?.status, .refused, outcome.error ?? "")
        XCTAssertTrue(outcome.record?.message.contains("cannot be idmapped") ?? false, outcome.record?.message ?? "")
        XCTAssertEqual(daemon.runDirectories, [], "nothing left behind")
    }
}

extension WorkspaceTests {
    func testThePolicyCapsWhatIsKeptOfTheOutput() throws {
        let big = daemon.run([python, "-c", "import sys; sys.stdout.write('y' * 300000)"], template: "small")
        XCTAssertEqual(big.stdout.count, 300_000)
        let kept = try daemon.cli(["logs", "\(try XCTUnwrap(big.record?.id))"])
        XCTAssertLessThan(kept.stdout.count, 70_000, "the template keeps 64 KiB")
        XCTAssertTrue(kept.stderr.contains("was not kept"), kept.stderr)
    }
}
