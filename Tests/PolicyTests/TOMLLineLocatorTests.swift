@testable import Policy
@testable import TOMLSupport
import XCTest

final class TOMLLineLocatorTests: XCTestCase {
    private let text = #"""
    # leading comment
    description = "has = signs and [brackets] # not a comment"

    [limits]   # trailing comment
      timeout = "1h"
    "quoted key" = 1
    'literal.key' = 2
    a . b = 3
    notes = """
    fake = 1
    [fake]
    """
    lit = '''
    x = 'y'
    '''

    [filesystem]
    read_only = [
      "/usr",  # one
      # comment, with a comma
      "/a,b]",
      [1, 2], "/x"
    ]
    set = { PATH = "/bin", HOME = "/h" }

    [[runs]]
    n = 1
    [[runs]]
    n = 2
    [environment.set]
    HOME = "/w"
    """#

    func testFindsKeysInTheirTables() {
        let locator = TOMLLineLocator(text)
        XCTAssertEqual(locator.line(of: ["description"]), 2)
        XCTAssertEqual(locator.line(of: ["limits"]), 4)
        XCTAssertEqual(locator.line(of: ["limits", "timeout"]), 5)
        XCTAssertEqual(locator.line(of: ["limits", "quoted key"]), 6)
        XCTAssertEqual(locator.line(of: ["limits", "literal.key"]), 7)
        XCTAssertEqual(locator.line(of: ["limits", "a", "b"]), 8)
        XCTAssertEqual(locator.line(of: ["limits", "a"]), 8)
        XCTAssertEqual(locator.line(of: ["limits", "notes"]), 9)
        XCTAssertEqual(locator.line(of: ["limits", "lit"]), 13)
        XCTAssertEqual(locator.line(of: ["filesystem", "read_only"]), 18)
        XCTAssertEqual(locator.line(of: ["filesystem", "set"]), 24)
    }

    func testSkipsMultiLineStringsAndArrays() {
        let locator = TOMLLineLocator(text)
        XCTAssertNil(locator.line(of: ["fake"]))
        // Not recorded, so they fall back to their table's header.
        XCTAssertEqual(locator.line(of: ["limits", "fake"]), 4)
        XCTAssertEqual(locator.line(of: ["limits", "x"]), 4)
    }

    func testFindsArrayElements() {
        let locator = TOMLLineLocator(text)
        let path = ["filesystem", "read_only"]
        XCTAssertEqual(locator.line(of: path, element: 0), 19)
        XCTAssertEqual(locator.line(of: path, element: 1), 21)
        XCTAssertEqual(locator.line(of: path, element: 2), 22)
        XCTAssertEqual(locator.line(of: path, element: 3), 22)
        XCTAssertEqual(locator.line(of: path, element: 4), 18, "past the end falls back to the key")
    }

    func testInlineTableKeysFallBackToTheirKey() {
        let locator = TOMLLineLocator(text)
        XCTAssertEqual(locator.line(of: ["filesystem", "set", "HOME"]), 24)
    }

    func testArrayOfTablesAndDottedHeaders() {
        let locator = TOMLLineLocator(text)
        XCTAssertEqual(locator.line(of: ["runs"]), 26)
        XCTAssertEqual(locator.line(of: ["runs", "n"]), 27)
        XCTAssertEqual(locator.line(of: ["environment"]), 30)
        XCTAssertEqual(locator.line(of: ["environment", "set"]), 30)
        XCTAssertEqual(locator.line(of: ["environment", "set", "HOME"]), 31)
    }

    func testUnknownPathsHaveNoLine() {
        XCTAssertNil(TOMLLineLocator(text).line(of: ["nowhere", "x"]))
        XCTAssertNil(TOMLLineLocator("").line(of: ["a"]))
    }

    func testCRLFLineEndingsCountOnce() {
        let locator = TOMLLineLocator("[a]\r\nx = 1\r\n\r\ny = [\r\n 1,\r\n 2]\r\n")
        XCTAssertEqual(locator.line(of: ["a", "x"]), 2)
        XCTAssertEqual(locator.line(of: ["a", "y"]), 4)
        XCTAssertEqual(locator.line(of: ["a", "y"], element: 1), 6)
    }
}
