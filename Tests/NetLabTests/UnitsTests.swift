import XCTest
@testable import NetLab

/// tc's units, as `ns:rate`/`ns:netem` read them.
final class UnitsTests: XCTestCase {
    func testRates() throws {
        XCTAssertEqual(try TCUnits.rate("10mbit"), 1_250_000)
        XCTAssertEqual(try TCUnits.rate("1Gbit"), 125_000_000)
        XCTAssertEqual(try TCUnits.rate("500kbit"), 62_500)
        XCTAssertEqual(try TCUnits.rate("100kbps"), 100_000)
        XCTAssertEqual(try TCUnits.rate("64kibit"), 8192)
        for bad in ["", "10", "mbit", "10 furlongs", "-1mbit", "1e400mbit", "nanmbit", "0bit"] {
            XCTAssertThrowsError(try TCUnits.rate(bad), bad)
        }
    }

    func testTimesSizesPercents() throws {
        XCTAssertEqual(try TCUnits.time("20ms"), 20_000_000)
        XCTAssertEqual(try TCUnits.time("1.5s"), 1_500_000_000)
        XCTAssertEqual(try TCUnits.time("100us"), 100_000)
        XCTAssertThrowsError(try TCUnits.time("20"))
        XCTAssertThrowsError(try TCUnits.time("2h"))
        XCTAssertEqual(try TCUnits.size("32kbit"), 4096)
        XCTAssertEqual(try TCUnits.size("4kb"), 4096)
        XCTAssertEqual(try TCUnits.size("1500b"), 1500)
        XCTAssertThrowsError(try TCUnits.size("1b"))
        XCTAssertEqual(try TCUnits.percent("0.5%"), 0.5)
        XCTAssertThrowsError(try TCUnits.percent("101%"))
        XCTAssertThrowsError(try TCUnits.percent("5"))
    }

    func testRateDefaults() {
        let r = RateLimit(bytesPerSecond: 1_250_000)
        XCTAssertEqual(r.burst, 25_000, "20 ms of traffic")
        XCTAssertEqual(r.limit, 25_000 + 62_500, "burst plus 50 ms")
        XCTAssertEqual(RateLimit(bytesPerSecond: 1000).burst, 4096, "at least 4 KiB")
    }
}
