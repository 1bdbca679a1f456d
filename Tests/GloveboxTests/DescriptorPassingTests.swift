import CSystem
import Foundation
import XCTest

/// gb_send_fds and gb_recv_fds, the one way descriptors travel between the client, the daemon and the
/// launcher's children: what comes through, and that a message not as expected leaks no descriptor.
final class DescriptorPassingTests: XCTestCase {
    private var sockets: [Int32] = [-1, -1]

    override func setUp() {
        XCTAssertEqual(socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &sockets), 0)
    }

    override func tearDown() {
        for fd in sockets where fd >= 0 { close(fd) }
    }

    private var openDescriptors: Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }

    private func devNulls(_ count: Int) -> [Int32] { (0..<count).map { _ in open("/dev/null", O_RDONLY | O_CLOEXEC) } }

    func testDescriptorsAndBytesArriveTogether() {
        let sent = devNulls(2)
        defer { sent.forEach { close($0) } }
        let payload: [UInt8] = [1, 2, 3, 4]
        XCTAssertEqual(gb_send_fds(sockets[0], payload, payload.count, sent, 2), 4)
        var received = [UInt8](repeating: 0, count: 4)
        var fds = [Int32](repeating: -1, count: 2)
        var count: Int32 = 0
        XCTAssertEqual(gb_recv_fds(sockets[1], &received, 4, &fds, 2, &count, 0), 4)
        XCTAssertEqual(received, payload)
        XCTAssertEqual(count, 2)
        for fd in fds {
            XCTAssertGreaterThanOrEqual(fd, 0)
            XCTAssertEqual(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC, "received close-on-exec")
            close(fd)
        }
    }

    func testMoreDescriptorsThanAskedForAreAllClosed() {
        let sent = devNulls(3)
        defer { sent.forEach { close($0) } }
        let before = openDescriptors
        XCTAssertEqual(gb_send_fds(sockets[0], [9], 1, sent, 3), 1)
        var byte: UInt8 = 0
        var fds = [Int32](repeating: -1, count: 2)
        var count: Int32 = 0
        XCTAssertEqual(gb_recv_fds(sockets[1], &byte, 1, &fds, 2, &count, 0), -1)
        XCTAssertEqual(errno, EBADMSG)
        XCTAssertEqual(count, 0)
        XCTAssertEqual(openDescriptors, before, "the three that came were closed")
    }

    func testACutShortMessageIsRefusedAndItsDescriptorClosed() {
        let sent = devNulls(1)
        defer { sent.forEach { close($0) } }
        let before = openDescriptors
        XCTAssertEqual(gb_send_fds(sockets[0], [1, 2, 3, 4, 5, 6, 7, 8], 8, sent, 1), 8)
        var small = [UInt8](repeating: 0, count: 4)
        var fd: Int32 = -1
        var count: Int32 = 0
        XCTAssertEqual(gb_recv_fds(sockets[1], &small, 4, &fd, 1, &count, 0), -1)
        XCTAssertEqual(errno, EBADMSG)
        XCTAssertEqual(openDescriptors, before)
    }

    func testTheOneDescriptorFormsAgree() {
        let sent = devNulls(1)
        defer { sent.forEach { close($0) } }
        XCTAssertEqual(gb_send_with_fd(sockets[0], [7], 1, -1), 1)
        var byte: UInt8 = 0
        var fd: Int32 = 99
        XCTAssertEqual(gb_recv_with_fd(sockets[1], &byte, 1, &fd), 1)
        XCTAssertEqual(fd, -1, "none came")
        XCTAssertEqual(gb_send_with_fd(sockets[0], [8], 1, sent[0]), 1)
        XCTAssertEqual(gb_recv_with_fd(sockets[1], &byte, 1, &fd), 1)
        XCTAssertGreaterThanOrEqual(fd, 0)
        close(fd)
        XCTAssertEqual(gb_send_fds(sockets[0], [1], 1, sent, Int32(GB_MAX_PASSED_FDS) + 1), -1)
        XCTAssertEqual(errno, EINVAL)
    }
}
