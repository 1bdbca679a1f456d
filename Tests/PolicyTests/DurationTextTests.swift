import Policy
import XCTest

final class DurationTextTests: XCTestCase {
    func testParsesUnits() {
        XCTAssertEqual(DurationText.parse("90s"), 90)
        XCTAssertEqual(DurationText.parse("10m"), 600)
        XCTAssertEqual(DurationText.parse("10min"), 600)
        XCTAssertEqual(DurationText.parse("2h"), 7200)
        XCTAssertEqual(DurationText.parse("1.5h"), 5400)
        XCTAssertEqual(DurationText.parse("500ms"), 0.5)
        XCTAssertEqual(DurationText.parse("3600"), 3600)
        XCTAssertEqual(DurationText.parse("2.5"), 2.5)
        XCTAssertEqual(DurationText.parse("1d"), 86_400)
        XCTAssertEqual(DurationText.parse(" 2 h "), 7200)
        XCTAssertEqual(DurationText.parse("0"), 0)
    }

    func testRejectsInvalidDurations() {
        for text in ["", "h", "-5s", "5x", "1.", ".5h", "1e3", "1h30m", "5 seconds", "nan", "inf", "1..5s"] {
            XCTAssertNil(DurationText.parse(text), text)
        }
    }

    func testFormatsWithTheLargestExactUnit() {
        XCTAssertEqual(DurationText.format(0), "0s")
        XCTAssertEqual(DurationText.format(0.5), "500ms")
        XCTAssertEqual(DurationText.format(45), "45s")
        XCTAssertEqual(DurationText.format(90), "90s")
        XCTAssertEqual(DurationText.format(600), "10m")
        XCTAssertEqual(DurationText.format(5400), "90m")
        XCTAssertEqual(DurationText.format(7200), "2h")
        XCTAssertEqual(DurationText.format(30 * 86_400), "30d")
        XCTAssertEqual(DurationText.format(1.5), "1.5s")
        XCTAssertEqual(DurationText.format(-60), "-1m")
    }

    func testFormatsNonFiniteValuesWithoutTrapping() {
        XCTAssertEqual(DurationText.format(.infinity), "inf")
        XCTAssertEqual(DurationText.format(.nan), "nan")
        XCTAssertEqual(DurationText.format(1e300), "1e+300s")
    }

    func testFormatParsesBack() {
        for seconds: Double in [0.25, 1, 59, 60, 61, 3599, 3600, 5400, 86_400, 1.5, 2_592_000] {
            XCTAssertEqual(DurationText.parse(DurationText.format(seconds)), seconds)
        }
    }
}
