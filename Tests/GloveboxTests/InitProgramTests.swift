@testable import Sandbox
import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// glovebox-init runs unfiltered as every run's pid 1: the daemon executes only a file that is root's
/// alone, and refuses to start without one.
final class InitProgramTests: XCTestCase {
    private var scratch = ""

    override func setUpWithError() throws {
        var template = Array("/var/tmp/glovebox-init-test.XXXXXX".utf8CString)
        guard mkdtemp(&template) != nil else { throw XCTSkip("mkdtemp: \(String(cString: strerror(errno)))") }
        scratch = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    override func tearDown() {
        if !scratch.isEmpty { _ = try? DaemonFixture.run(["/bin/rm", "-rf", scratch]) }
    }

    private func copyOfInit(mode: mode_t, owner: uid_t = 0) throws -> String {
        let path = scratch + "/glovebox-init"
        XCTAssertEqual(try DaemonFixture.run(["/bin/cp", DaemonFixture.buildDirectory + "/glovebox-init", path]).status, 0)
        XCTAssertEqual(chmod(path, mode), 0)
        XCTAssertEqual(chown(path, owner, owner), 0)
        return path
    }

    private func refusal(_ candidates: [String]) -> String? {
        do {
            _ = try InitProgram.locate(candidates: candidates)
            return nil
        } catch {
            return "\(error)"
        }
    }

    func testOnlyARootOwnedFileNoOneElseCanWriteIsAccepted() throws {
        let path = try copyOfInit(mode: 0o755)
        XCTAssertNil(refusal([path]))
        XCTAssertEqual(try InitProgram.locate(candidates: [scratch + "/absent", path]).path, path, "the first that exists")

        XCTAssertEqual(chmod(path, 0o775), 0)
        XCTAssertEqual(refusal([path])?.contains("writable by its group or by others (mode 775)"), true)
        XCTAssertEqual(chmod(path, 0o757), 0)
        XCTAssertEqual(refusal([path])?.contains("writable by its group or by others"), true)
        XCTAssertEqual(chmod(path, 0o750), 0)
        XCTAssertEqual(refusal([path])?.contains("not executable by others"), true)
        XCTAssertEqual(chmod(path, 0o755), 0)
        XCTAssertEqual(chown(path, 65534, 65534), 0)
        XCTAssertEqual(refusal([path])?.contains("owned by uid 65534, not root"), true)

        let directory = scratch + "/dir"
        XCTAssertEqual(mkdir(directory, 0o755), 0)
        XCTAssertEqual(refusal([directory])?.contains("is not a regular file"), true)
        let missing = refusal([scratch + "/a", scratch + "/b"]) ?? ""
        XCTAssertTrue(missing.contains("glovebox-init") && missing.contains(scratch + "/a or " + scratch + "/b"), missing)
    }

    func testItIsLookedForBesideTheExecutableThenInLibexec() {
        XCTAssertEqual(InitProgram.candidates(executable: "/usr/local/bin/gloveboxd"),
                       ["/usr/local/bin/glovebox-init", "/usr/local/bin/../libexec/glovebox/glovebox-init"])
    }

    func testTheDaemonRefusesToStartWithoutIt() throws {
        // A copy of gloveboxd in a directory without glovebox-init (and no ../libexec/glovebox).
        let bin = scratch + "/bin"
        XCTAssertEqual(mkdir(bin, 0o755), 0)
        XCTAssertEqual(try DaemonFixture.run(["/bin/cp", DaemonFixture.gloveboxd, bin + "/gloveboxd"]).status, 0)
        let result = try DaemonFixture.run([bin + "/gloveboxd", "--socket", scratch + "/d.sock", "--state-dir", scratch + "/state",
                                            "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("glovebox-init, the first process of every run, is not in \(bin)/glovebox-init"), result.stderr)
        XCTAssertEqual(access(scratch + "/d.sock", F_OK), -1, "it never listened")

        let check = try DaemonFixture.run([bin + "/gloveboxd", "--check-config", "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stdout.contains("glovebox-init"), check.stdout)

        // The same copy starts once a good glovebox-init is beside it... and not with one others can write.
        _ = try copyOfInit(mode: 0o777)
        XCTAssertEqual(rename(scratch + "/glovebox-init", bin + "/glovebox-init"), 0)
        let writable = try DaemonFixture.run([bin + "/gloveboxd", "--check-config", "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        XCTAssertEqual(writable.status, 1)
        XCTAssertTrue(writable.stdout.contains("writable by its group or by others"), writable.stdout)
        XCTAssertEqual(chmod(bin + "/glovebox-init", 0o755), 0)
        let good = try DaemonFixture.run([bin + "/gloveboxd", "--check-config", "--policy-dir", DaemonFixture.repositoryRoot + "/policies"])
        XCTAssertTrue(good.stdout.contains("glovebox-init: ok (\(bin)/glovebox-init)"), good.stdout)
    }

    func testRunByHandItExplainsWhatItIs() throws {
        let result = try DaemonFixture.run([DaemonFixture.buildDirectory + "/glovebox-init", "--", "/bin/true"])
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.stderr.contains("not meant to be run by hand"), result.stderr)
    }
}
