import Foundation
import XCTest
@testable import GloveboxTestSupport

/// What runs where: the client and the scientist run as users and link none of the daemon's C (the launcher,
/// the setup child, the fault injection, the mount and namespace wrappers), only the wrappers both sides use.
final class TrustZoneTests: XCTestCase {
    /// The C functions (gb_*) an executable of the build defines.
    private func cFunctions(_ executable: String) throws -> Set<String> {
        let result = try DaemonFixture.run(["/usr/bin/nm", "--defined-only", DaemonFixture.buildDirectory + "/" + executable])
        XCTAssertEqual(result.status, 0, result.stderr)
        return Set(result.stdout.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: " ")
            return fields.count == 3 && fields[1] == "T" && fields[2].hasPrefix("gb_") ? String(fields[2]) : nil
        })
    }

    /// Every symbol of an executable of the build, as nm lists them.
    private func symbols(_ executable: String) throws -> String {
        let result = try DaemonFixture.run(["/usr/bin/nm", DaemonFixture.buildDirectory + "/" + executable])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout
    }

    static let shared: Set<String> = ["gb_forward_cancel_signals", "gb_openat_beneath", "gb_peer_credentials", "gb_pipe_cloexec", "gb_recv_fds", "gb_send_fds",
                                      "gb_recv_with_fd", "gb_send_with_fd"]

    func testTheClientAndTheScientistLinkOnlyTheSharedWrappers() throws {
        for executable in ["glovebox", "scientist"] {
            XCTAssertEqual(try cFunctions(executable), Self.shared, executable)
        }
        let daemon = try cFunctions("gloveboxd")
        XCTAssertTrue(daemon.isSuperset(of: Self.shared))
        XCTAssertTrue(daemon.isSuperset(of: ["gb_hand_over", "gb_limit_bounding_set", "gb_mount_overlay"]), "the daemon links the launcher")
    }

    /// The client's hand-written JSON (CompactJSON, justified by the client's start) lives in the client's
    /// module: no code of the daemon's can pick it up.
    func testTheDaemonHoldsNoneOfTheClientsHandWrittenJSON() throws {
        XCTAssertTrue(try symbols("glovebox").contains("JSONObjectWriter"), "the client writes its requests by hand")
        XCTAssertFalse(try symbols("gloveboxd").contains("JSONObjectWriter"))
        XCTAssertFalse(try symbols("gloveboxd").contains("JSONValue"))
    }

    /// SHA-256 comes from swift-crypto (Digests), for the daemon and the scientist; the client, whose start
    /// is measured, links none of it.
    func testOnlyTheDaemonAndTheScientistLinkSwiftCrypto() throws {
        XCTAssertTrue(try symbols("gloveboxd").contains("CCryptoBoringSSL"))
        XCTAssertTrue(try symbols("scientist").contains("CCryptoBoringSSL"))
        XCTAssertFalse(try symbols("glovebox").contains("CCryptoBoringSSL"))
        XCTAssertFalse(try symbols("glovebox").contains("sha256Hex"))
    }
}
