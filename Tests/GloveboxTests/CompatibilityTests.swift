import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// What ordinary programs expect of a Linux system and found missing inside a run: pseudo-terminals,
/// localhost, and a name for the run's uid.
final class CompatibilityTests: DaemonTestCase {
    func output(_ argv: [String]) -> String {
        let outcome = daemon.run(argv)
        XCTAssertEqual(outcome.record?.status, .ok, outcome.stdout + outcome.stderr + (outcome.error ?? ""))
        return outcome.stdout
    }

    /// os.openpty (pexpect, ptyprocess) and script(1): a devpts instance of the run's own, numbered from 0.
    func testPseudoTerminalsWork() {
        XCTAssertEqual(output([python, "-c", "import os; m, s = os.openpty(); os.write(m, b'x\\n'); print(os.ttyname(s), os.read(s, 2))"]),
                       "/dev/pts/0 b'x\\n'\n")
        XCTAssertEqual(output(["/usr/bin/script", "-qec", "/usr/bin/tty", "/dev/null"]).trimmingCharacters(in: .whitespacesAndNewlines), "/dev/pts/0")
    }

    /// torch.distributed's MASTER_ADDR=localhost, getpass.getuser(), getpwuid.
    func testLocalhostResolvesAndTheRunsUserHasAName() {
        let script = """
        import getpass, grp, os, pwd, socket
        print(socket.gethostbyname('localhost'), socket.gethostbyname(socket.gethostname()))
        server = socket.create_server(('localhost', 0))
        client = socket.create_connection(('localhost', server.getsockname()[1]))
        print('connected')
        print(getpass.getuser(), pwd.getpwuid(os.getuid()).pw_dir, grp.getgrgid(os.getgid()).gr_name)
        """
        XCTAssertEqual(output([python, "-c", script]), "127.0.0.1 127.0.1.1\nconnected\nglovebox /workspace glovebox\n")
    }
}
