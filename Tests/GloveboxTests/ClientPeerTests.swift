import XCTest
@testable import GloveboxTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// The client sends nothing, above all no descriptor of its workdir, to a socket that gloveboxd (root)
/// does not hold.
final class ClientPeerTests: FixturesTestCase {
    func testTheClientSendsNothingToASocketHeldByAnotherUser() throws {
        var template = Array("/var/tmp/glovebox-peer.XXXXXX".utf8CString)
        let scratch = try XCTUnwrap(mkdtemp(&template).map { String(cString: $0) })
        defer { _ = try? DaemonFixture.run(["/bin/rm", "-rf", scratch]) }
        chmod(scratch, 0o777)
        let socket = scratch + "/impostor.sock", heard = scratch + "/heard"
        mkdir(scratch + "/work", 0o755)
        // A listener of nobody's that reports what the first connection sent it, bytes and descriptors.
        let listener = """
            import array, socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.bind(sys.argv[1]); s.listen(1)
            c, _ = s.accept()
            c.settimeout(5)
            got, fds = 0, 0
            try:
                while True:
                    data, ancillary, _, _ = c.recvmsg(65536, socket.CMSG_SPACE(16 * 4))
                    for level, kind, payload in ancillary:
                        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                            fds += len(payload) // 4
                    if not data: break
                    got += len(data)
            except socket.timeout:
                pass
            open(sys.argv[2], "w").write(f"bytes={got} fds={fds}")
            """
        let pid = try DaemonFixture.spawn(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--",
                                           "/usr/bin/python3", "-c", listener, socket, heard],
                                          stdout: "/dev/null", stderr: scratch + "/listener.err")
        defer { kill(pid, SIGKILL); var status: Int32 = 0; waitpid(pid, &status, 0) }
        XCTAssertTrue(eventually { access(socket, F_OK) == 0 }, "the listener did not start")

        let client = try DaemonFixture.run([DaemonFixture.glovebox, "run", "--socket", socket, "--workdir", scratch + "/work", "--", "/bin/true"])
        XCTAssertEqual(client.status, 125, client.stderr)
        XCTAssertTrue(client.stderr.contains("refusing to talk to \(socket): it is held by uid 65534"), client.stderr)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        XCTAssertEqual(try String(contentsOfFile: heard, encoding: .utf8), "bytes=0 fds=0")
    }
}
