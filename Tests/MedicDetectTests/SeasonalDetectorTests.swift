import MedicDetect
import XCTest

final class SeasonalDetectorTests: XCTestCase {
    /// 2024-01-01 00:00 UTC, a Monday.
    let monday: Double = 1_704_067_200
    let week: Double = 604_800

    func testHourOfWeekStartsOnMondayUTC() {
        XCTAssertEqual(SeasonalDetector.hourOfWeek(monday), 0)
        XCTAssertEqual(SeasonalDetector.hourOfWeek(monday + 25 * 3600 + 59 * 60), 25)  // Tuesday 01:59
        XCTAssertEqual(SeasonalDetector.hourOfWeek(0), 72)  // 1970-01-01 was a Thursday
        XCTAssertEqual(SeasonalDetector.hourOfWeek(-3600), 71)  // Wednesday 23:00
        XCTAssertEqual(SeasonalDetector.hourOfWeek(monday - 1), 167)  // Sunday 23:59:59
        XCTAssert((0..<168).contains(SeasonalDetector.hourOfWeek(1e300)))
        XCTAssert((0..<168).contains(SeasonalDetector.hourOfWeek(-1e300)))
    }

    func testBandOfTheSameHourOfWeek() {
        var d = SeasonalDetector(low: 5, high: 95, minSamples: 4)
        // Four Mondays 00:00 teach the bucket 10, 20, 30, 40 (too few before that: normal).
        let learning = feed(&d, [10, 20, 30, 40], start: monday, step: week)
        // Week 5: percentiles of [10 20 30 40] (h = 3p): 5th = 10 + .15·10 = 11.5, 95th = 30 + .85·10 = 38.5,
        //   width 27; 50 is 11.5 above → 0.5 + 0.5·11.5/(11.5 + 27) = .64935
        let spike = d.observe(time: monday + 4 * week, value: 50)
        // The same week, Monday 01:00: another bucket, still empty → normal.
        let otherHour = d.observe(time: monday + 4 * week + 3600, value: 50)
        // Week 6: [10 20 30 40 50] (h = 4p): 5th = 10 + .2·10 = 12, 95th = 40 + .8·10 = 48; 25 is inside → 0
        let inside = d.observe(time: monday + 5 * week, value: 25)
        // Week 7: [10 20 25 30 40 50]: 5th = 10 + .25·10 = 12.5 (h = 5p = .25), 95th = 40 + .75·10 = 47.5;
        //   5 is 7.5 below, width 35 → 0.5 + 0.5·7.5/42.5 = .58824
        let dip = d.observe(time: monday + 6 * week, value: 5)
        assertOutputs(learning + [spike, otherHour, inside, dip],
                      [normal0, normal0, normal0, normal0, (true, 0.5 + 0.5 * 11.5 / 38.5), normal0, normal0, (true, 0.5 + 0.5 * 7.5 / 42.5)])
    }

    func testP2EstimatesTrackThePercentilesOfALongHistory() {
        var d = SeasonalDetector(low: 5, high: 95, minSamples: 4)
        // 2,000 weeks of one bucket, values 0...999 twice in a scrambled order: the 5th and 95th
        // percentiles are about 50 and 949.
        for i in 0..<2_000 {
            _ = d.observe(time: monday + Double(i) * week, value: Double((i * 7_919) % 1_000))
        }
        let next = monday + 2_000 * week
        var probe = d
        XCTAssertFalse(probe.observe(time: next, value: 80).anomalous, "80 is inside the 5th-95th band")
        probe = d
        XCTAssertTrue(probe.observe(time: next, value: 20).anomalous, "20 is below the 5th percentile")
        probe = d
        XCTAssertFalse(probe.observe(time: next, value: 920).anomalous)
        probe = d
        XCTAssertTrue(probe.observe(time: next, value: 980).anomalous)
    }

    func testParametersAreClampedAndOrdered() {
        let d = SeasonalDetector(low: 120, high: -3, minSamples: 0)
        XCTAssertEqual(d.low, 0)
        XCTAssertEqual(d.high, 100)
        XCTAssertEqual(d.minSamples, 1)
    }
}
