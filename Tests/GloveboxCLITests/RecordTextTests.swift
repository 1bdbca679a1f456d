import XCTest
@testable import glovebox

final class RecordTextTests: XCTestCase {
    func testArgumentsAreQuotedAsAShellReadsThemOnOneLine() {
        XCTAssertEqual(RecordText.quote("--out_dir=run_1"), "--out_dir=run_1")
        XCTAssertEqual(RecordText.quote("a b"), "'a b'")
        XCTAssertEqual(RecordText.quote("it's"), "'it'\\''s'")
        XCTAssertEqual(RecordText.quote(""), "''")
        XCTAssertEqual(RecordText.quote("import os\nprint('x')\t\\\u{1b}"), "$'import os\\nprint(\\'x\\')\\t\\\\\\x1b'")
    }
}
