import Foundation
import MedicText
import XCTest

final class TimestampTests: XCTestCase {
    /// 2015-01-01T00:00:00Z: 16,436 days after 1970-01-01 (45 years, 11 of them leap) × 86,400.
    let newYear2015: Int64 = 1_420_070_400

    func testReadsRFC3339WithFractionsAndOffsets() throws {
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00Z"), Timestamp(seconds: newYear2015))
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01t00:00:00z"), Timestamp(seconds: newYear2015))
        // 02:00 at +02:00 and 19:00 the day before at -05:00 are both midnight UTC.
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T02:00:00+02:00"), Timestamp(seconds: newYear2015))
        XCTAssertEqual(Timestamp(rfc3339: "2014-12-31T19:00:00-05:00"), Timestamp(seconds: newYear2015))
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T05:30:00+05:30"), Timestamp(seconds: newYear2015))
        // The fraction to the nanosecond, whatever its length; digits past the ninth are cut.
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00.5Z")?.nanoseconds, 500_000_000)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00.250Z")?.nanoseconds, 250_000_000)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00.000000001Z")?.nanoseconds, 1)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00.1234567899Z")?.nanoseconds, 123_456_789)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T00:00:00.25Z")?.secondsSince1970, 1_420_070_400.25)
        // A leap second reads as the next minute's start.
        XCTAssertEqual(Timestamp(rfc3339: "2016-12-31T23:59:60Z")?.seconds, 1_483_228_800)
        // Before 1970: seconds round down, the fraction stays positive.
        let before = try XCTUnwrap(Timestamp(rfc3339: "1969-12-31T23:59:59.750Z"))
        XCTAssertEqual(before.seconds, -1)
        XCTAssertEqual(before.nanoseconds, 750_000_000)
        XCTAssertEqual(before.secondsSince1970, -0.25)
        XCTAssertEqual(before.secondOfDay, 86_399)
        // The Double nearest -0.15, not -1 + 0.85 (which is -0.15000000000000002).
        XCTAssertEqual(Timestamp(rfc3339: "1969-12-31T23:59:59.850Z")?.secondsSince1970, -0.15)
    }

    func testLeapYears() {
        // 2016 and 2000 are leap years; 2015 is not, nor is 1900 (divisible by 100, not by 400).
        XCTAssertEqual(Timestamp(rfc3339: "2016-02-29T12:00:00Z")?.seconds, 1_456_747_200)
        XCTAssertEqual(Timestamp(rfc3339: "2000-02-29T00:00:00Z")?.seconds, 951_782_400)
        XCTAssertNil(Timestamp(rfc3339: "2015-02-29T00:00:00Z"))
        XCTAssertNil(Timestamp(rfc3339: "1900-02-29T00:00:00Z"))
        XCTAssertEqual(Timestamp(rfc3339: "1900-03-01T00:00:00Z")?.seconds, -2_203_891_200)
        XCTAssertEqual(Timestamp.daysIn(month: 2, year: 2024), 29)
        XCTAssertEqual(Timestamp.daysIn(month: 2, year: 2100), 28)
        XCTAssertEqual(Timestamp.days(year: 1970, month: 1, day: 1), 0)
        XCTAssertEqual(Timestamp.days(year: 2015, month: 1, day: 1), 16_436)
        XCTAssertTrue(Timestamp.civil(days: 16_436) == (2015, 1, 1))
        XCTAssertTrue(Timestamp.civil(days: -1) == (1969, 12, 31))
    }

    func testRefusesOutOfRangeFieldsAndOtherSpellings() {
        for text in ["", "2015-13-01T00:00:00Z", "2015-00-01T00:00:00Z", "2015-01-00T00:00:00Z", "2015-04-31T00:00:00Z",
                     "2015-01-01T24:00:00Z", "2015-01-01T00:60:00Z", "2015-01-01T00:00:61Z", "2015-01-01T00:00:00+24:00",
                     "2015-01-01T00:00:00+02:60", "2015-01-01T00:00:00", "2015-01-01", "2015-01-01 00:00:00Z",
                     "2015-01-01T00:00:00.Z", "2015-01-01T00:00:00+0200", "2015-01-01T00:00:00+2", "2015-01-01T00:00:00Zjunk",
                     " 2015-01-01T00:00:00Z", "2015-01-01T00:00:00Z ", "15-01-01T00:00:00Z", "2015/01/01T00:00:00Z",
                     "2015-1-01T00:00:00Z", "２０１５-01-01T00:00:00Z"] {
            XCTAssertNil(Timestamp(rfc3339: text), text)
        }
    }

    func testSeriesLeniency() {
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01 00:05:07", leniency: .series)?.seconds, newYear2015 + 307)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01", leniency: .series)?.seconds, newYear2015)
        XCTAssertEqual(Timestamp(rfc3339: "2015-01-01T02:00:00+0200", leniency: .series)?.seconds, newYear2015)
        XCTAssertNil(Timestamp(rfc3339: "2015-01-01 00:00:00", leniency: .dateAlone))
        XCTAssertNil(Timestamp(rfc3339: "2015-01-01T", leniency: .series))
        XCTAssertNil(Timestamp(rfc3339: "2015-01-01T00:00:00+02", leniency: .series))
    }

    func testWritesTheJournalsSpelling() {
        XCTAssertEqual(Timestamp(seconds: 1_795_428_900).rfc3339(), "2026-11-23T10:15:00.000Z")
        XCTAssertEqual(Timestamp(milliseconds: 1_795_428_900_250).rfc3339(), "2026-11-23T10:15:00.250Z")
        XCTAssertEqual(Timestamp(milliseconds: 1_795_428_900_250).rfc3339(.millisecondsUnlessZero), "2026-11-23T10:15:00.250Z")
        XCTAssertEqual(Timestamp(seconds: 1_795_428_900).rfc3339(.millisecondsUnlessZero), "2026-11-23T10:15:00Z")
        // The fraction is cut to milliseconds, not rounded.
        XCTAssertEqual(Timestamp(seconds: 0, nanoseconds: 999_999_999).rfc3339(), "1970-01-01T00:00:00.999Z")
        XCTAssertEqual(Timestamp(milliseconds: -1).rfc3339(), "1969-12-31T23:59:59.999Z")
        // Years past 9999 take the digits they need; years before 0 a sign.
        XCTAssertEqual(Timestamp(seconds: 253_402_300_800).rfc3339(), "10000-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp(seconds: -62_167_219_200).rfc3339(), "0000-01-01T00:00:00.000Z")
        XCTAssertEqual(Timestamp(seconds: -62_167_219_201).rfc3339(), "-0001-12-31T23:59:59.000Z")
    }

    func testFromEpochSecondsRoundsAsAsked() {
        XCTAssertEqual(Timestamp(secondsSince1970: 1.2345, roundedToMilliseconds: .toNearestOrAwayFromZero)?.rfc3339(),
                       "1970-01-01T00:00:01.235Z")
        XCTAssertEqual(Timestamp(secondsSince1970: 1.2345, roundedToMilliseconds: .down)?.rfc3339(), "1970-01-01T00:00:01.234Z")
        XCTAssertEqual(Timestamp(secondsSince1970: -0.0004, roundedToMilliseconds: .down)?.rfc3339(), "1969-12-31T23:59:59.999Z")
        XCTAssertNil(Timestamp(secondsSince1970: .nan, roundedToMilliseconds: .down))
        XCTAssertNil(Timestamp(secondsSince1970: .infinity, roundedToMilliseconds: .down))
        XCTAssertNil(Timestamp(secondsSince1970: 1e14, roundedToMilliseconds: .down))
        XCTAssertNil(Timestamp(secondsSince1970: -1e14, roundedToMilliseconds: .down))
    }

    func testReadsWhatItWrites() throws {
        for millis: Int64 in [0, 1, 999, 1_000, 86_399_999, 1_795_428_900_250, -1, -86_400_001, 253_402_300_799_999] {
            let time = Timestamp(milliseconds: millis)
            XCTAssertEqual(Timestamp(rfc3339: time.rfc3339()), time, "\(millis)")
            XCTAssertEqual(time.millisecondsSince1970, millis)
        }
    }

    /// The journal wrote its times with `Date.ISO8601FormatStyle(includingFractionalSeconds:
    /// true)` and reads old journals: the same text for any date Medic meets (Foundation's
    /// calendar is Julian before 1582, so the check starts in 1600).
    func testWritesADateAsFoundationsISO8601StyleDid() throws {
        let style = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        var generator = SystemRandomNumberGenerator()
        var dates = [0, 0.0005, 0.9995, 1.2345, -0.0005, -1.2345, 1_764_000_000.1239, 1_764_000_000.9999, 253_402_300_799.999,
                     -11_676_096_000].map { Date(timeIntervalSince1970: $0) }
        dates += (0..<20_000).map { _ in Date(timeIntervalSince1970: Double.random(in: -11_676_096_000...253_402_300_799, using: &generator)) }
        dates += (0..<20_000).map { _ in Date().addingTimeInterval(Double.random(in: -1e6...1e6, using: &generator)) }
        for date in dates {
            let written = try XCTUnwrap(Timestamp(date)).rfc3339()
            XCTAssertEqual(written, date.formatted(style), "\(date.timeIntervalSince1970)")
            let read = try XCTUnwrap(Timestamp(rfc3339: written))
            XCTAssertEqual(read.date.timeIntervalSince1970, try style.parse(written).timeIntervalSince1970, accuracy: 1e-4)
        }
    }
}
