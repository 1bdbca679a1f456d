import Foundation
import XCTest
@testable import Scientist

/// The archive holds every prompt and reply: it is its user's alone from the moment it is made.
final class ArchiveFileTests: XCTestCase {
    func testANewArchiveAndItsDirectoryArePrivate() throws {
        let directory = try TemporaryDirectory("scientist-archive")
        defer { directory.remove() }
        let path = directory.path + "/new/share/scientist.db"
        _ = try ScientistStore(path: path)
        func mode(_ path: String) throws -> Int {
            try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        }
        XCTAssertEqual(try mode(directory.path + "/new/share"), 0o700, "the directory it made")
        XCTAssertEqual(try mode(path), 0o600)
        XCTAssertEqual(try ScientistStore(path: path).path, path, "and it opens again")
    }
}
