import MedicDetect
import XCTest

final class SeriesTimestampTests: XCTestCase {
    /// 2015-01-01 00:00:00 UTC = 16,436 days after 1970-01-01 (45 years, 11 of them leap) · 86,400.
    let newYear2015: Double = 1_420_070_400

    func testReadsNABRFC3339AndEpochSeconds() {
        XCTAssertEqual(16_436 * 86_400, newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("2015-01-01 00:00:00"), newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("2015-01-01T00:00:00Z"), newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("2015-01-01T02:00:00+02:00"), newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("2014-12-31T19:00:00-05:00"), newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("2015-01-01t00:00:00.25z"), newYear2015 + 0.25)
        XCTAssertEqual(SeriesTimestamp.parse(" 2015-01-01 00:05:07 "), newYear2015 + 307)
        XCTAssertEqual(SeriesTimestamp.parse("1420070400"), newYear2015)
        XCTAssertEqual(SeriesTimestamp.parse("1420070400.5"), newYear2015 + 0.5)
        XCTAssertEqual(SeriesTimestamp.parse("2016-02-29 12:00:00"), 1_456_747_200)
        XCTAssertEqual(SeriesTimestamp.parse("1970-01-01 00:00:00"), 0)
        XCTAssertEqual(SeriesTimestamp.parse("1969-12-31 23:00:00"), -3600)
        // Before 1970 a fraction reads as the Double nearest its value.
        XCTAssertEqual(SeriesTimestamp.parse("1969-12-31T23:59:59.850Z"), -0.15)
        XCTAssertEqual(SeriesTimestamp.parse("1969-12-31T23:59:59.750Z"), -0.25)
    }

    func testRefusesWhatIsNotATime() {
        for text in ["", "abc", "nan", "inf", "-inf", "2015-02-29 00:00:00", "2015-13-01 00:00:00", "2015-01-01 24:00:00",
                     "2015-01-01 00:60:00", "2015-01-01 00:00", "2015-01-01T00:00:00+2", "2015-01-01T00:00:00Zjunk",
                     "2015-01-01 00:00:00.", "2015/01/01 00:00:00", "12:00:00", "0x1p3"] {
            XCTAssertNil(SeriesTimestamp.parse(text), text)
        }
    }
}
