import Policy
import XCTest

final class ByteSizeTests: XCTestCase {
    func testParsesBinaryUnitsWithAndWithoutSpaces() {
        XCTAssertEqual(ByteSize.parse("512MiB"), 512 << 20)
        XCTAssertEqual(ByteSize.parse("2 GiB"), 2 << 30)
        XCTAssertEqual(ByteSize.parse("1G"), 1 << 30)
        XCTAssertEqual(ByteSize.parse("100M"), 100 << 20)
        XCTAssertEqual(ByteSize.parse("64k"), 64 << 10)
        XCTAssertEqual(ByteSize.parse("64K"), 64 << 10)
        XCTAssertEqual(ByteSize.parse("3 TiB"), 3 << 40)
        XCTAssertEqual(ByteSize.parse("1.5 GiB"), 3 << 29)
    }

    func testParsesPlainBytesAndDecimalUnits() {
        XCTAssertEqual(ByteSize.parse("4096"), 4096)
        XCTAssertEqual(ByteSize.parse("123 B"), 123)
        XCTAssertEqual(ByteSize.parse("0"), 0)
        XCTAssertEqual(ByteSize.parse("1KB"), 1000)
        XCTAssertEqual(ByteSize.parse("5 MB"), 5_000_000)
        XCTAssertEqual(ByteSize.parse("2GB"), 2_000_000_000)
        XCTAssertEqual(ByteSize.parse(" 7 "), 7)
        XCTAssertEqual(ByteSize.parse("18446744073709551615"), UInt64.max)
    }

    func testRejectsInvalidSizes() {
        for text in ["", " ", "GiB", "-1", "-1G", "1.5", "1.", ".5G", "1e3", "12 apples", "1 GiBs", "1 G B", "0x10",
                     "18446744073709551616", "16EiB", "100000000000 GiB", "0.3 KiB", "1,5G"] {
            XCTAssertNil(ByteSize.parse(text), text)
        }
    }

    func testFormatsWholeUnits() {
        XCTAssertEqual(ByteSize.format(0), "0 B")
        XCTAssertEqual(ByteSize.format(123), "123 B")
        XCTAssertEqual(ByteSize.format(1023), "1023 B")
        XCTAssertEqual(ByteSize.format(1024), "1 KiB")
        XCTAssertEqual(ByteSize.format(512 << 20), "512 MiB")
        XCTAssertEqual(ByteSize.format(2 << 30), "2 GiB")
        XCTAssertEqual(ByteSize.format(3 << 40), "3 TiB")
    }

    func testFormatsFractionsWithAtMostTwoDecimals() {
        XCTAssertEqual(ByteSize.format(3 << 29), "1.5 GiB")
        XCTAssertEqual(ByteSize.format(1536), "1.5 KiB")
        XCTAssertEqual(ByteSize.format((1 << 30) + (1 << 28)), "1.25 GiB")
        XCTAssertEqual(ByteSize.format(1000), "1000 B")
        XCTAssertEqual(ByteSize.format(1_000_000), "976.56 KiB")
        XCTAssertEqual(ByteSize.format((1 << 20) + 10), "1 MiB")
        XCTAssertEqual(ByteSize.format(UInt64.max), "16 EiB")
    }

    func testFormatOfWholeUnitsParsesBack() {
        for n: UInt64 in [0, 1, 999, 4096, 4 << 20, 256 << 20, 5 << 30, 1 << 62] {
            XCTAssertEqual(ByteSize.parse(ByteSize.format(n)), n)
        }
    }
}
