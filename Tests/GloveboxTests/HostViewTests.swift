@testable import Sandbox
import XCTest

/// The parts of HostView that read the kernel's text: mount points as /proc/self/mountinfo escapes them,
/// and which of them lie at or below a bound path.
final class HostViewTests: XCTestCase {
    func testMountPointsAreUnescaped() {
        let line = "36 35 98:0 /mnt1 /srv/with\\040space\\011tab\\134back rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
        XCTAssertEqual(HostView.mountPoint(line[...]), "/srv/with space\ttab\\back")
        XCTAssertEqual(HostView.mountPoint("22 1 0:21 / /usr rw - ext4 /dev/sda1 rw"[...]), "/usr")
        XCTAssertEqual(HostView.mountPoint("22 1 0:21 / /a\\04b rw"[...]), "/a\\04b", "not three octal digits: kept as written")
        XCTAssertNil(HostView.mountPoint("22 1 0:21 /"[...]))
    }

    func testAtOrBelow() {
        XCTAssertTrue(HostView.isAtOrBelow("/usr", "/usr"))
        XCTAssertTrue(HostView.isAtOrBelow("/usr/lib/x", "/usr"))
        XCTAssertFalse(HostView.isAtOrBelow("/usrx", "/usr"))
        XCTAssertFalse(HostView.isAtOrBelow("/", "/usr"))
        XCTAssertTrue(HostView.isAtOrBelow("/anything", "/"))
    }
}
