import MedicDetect
import XCTest

/// `range`, from cases computed by hand: with lo, hi the extremes before a value and r = hi − lo,
/// a value beyond hi + tolerance·r (or below lo − tolerance·r) by e scores 0.5 + 0.5·f/(1 + f),
/// f = e/r; anything else 0.
final class RangeDetectorTests: XCTestCase {
    func testValuesBeyondTheRangeSeenScoreByHowFarBeyond() {
        var detector = RangeDetector(tolerance: 0, warmup: 2)
        assertOutputs(feed(&detector, [5, 7, 8, 6, 11, 3, 13]), [
            normal0, normal0,                    // warming up
            (true, 0.5 + 0.5 * (0.5 / 1.5)),     // 8 over [5, 7]: e = 1, f = 1/2 → 0.6667
            normal0,                             // 6 inside [5, 8]
            (true, 0.75),                        // 11 over [5, 8]: e = 3 = r → f = 1 → 0.75
            (true, 0.5 + 0.5 * (1.0 / 3) / (4.0 / 3)), // 3 under [5, 11]: e = 2, r = 6 → 0.625
            (true, 0.5 + 0.5 * 0.25 / 1.25),     // 13 over [3, 11]: e = 2, r = 8 → 0.6
        ])
        XCTAssertTrue(detector.explanation.contains("2.0 beyond the range of the values seen before it (width 8.0"),
                      detector.explanation)
    }

    func testTheToleranceWidensTheRangeOnEachSide() {
        var detector = RangeDetector(tolerance: 0.5, warmup: 1)
        assertOutputs(feed(&detector, [0, 10, 14, 16, -20]), [
            normal0,
            normal0,                             // every value so far equal: no scale
            normal0,                             // 14 within [0, 10] ± 5
            normal0,                             // 16 within [0, 14] ± 7
            (true, 0.5 + 0.5 * 0.75 / 1.75),     // −20 below [0, 16] − 8 = −8 by 12: f = 12/16
        ])
        var flat = RangeDetector(tolerance: 0.5, warmup: 1)
        _ = feed(&flat, [3, 3])
        XCTAssertTrue(flat.explanation.contains("within the range of the values seen (3.0...3.0"), flat.explanation)
    }

    func testScoresStayBelowOneAndHostileSamplesChangeNothing() {
        var detector = RangeDetector(tolerance: 0, warmup: 1)
        let outputs = feed(&detector, samples: [(0, 0), (1, 1), (2, .nan), (2, .infinity), (1, 50), (3, 2), (4, 1e300)])
        XCTAssertEqual(outputs[2], .normal)
        XCTAssertEqual(outputs[3], .normal)
        XCTAssertEqual(outputs[4], .normal, "an out-of-order sample is ignored")
        // The hostile samples did not widen the range: 2 over [0, 1] by 1 → 0.75 (inside, had 50 counted).
        XCTAssertEqual(outputs[5].score, 0.75, accuracy: 1e-12)
        XCTAssertTrue(outputs[6].anomalous)
        XCTAssertLessThan(outputs[6].score, 1)
        XCTAssertGreaterThan(outputs[6].score, 0.999)

        var huge = RangeDetector(tolerance: 0, warmup: 1)
        let extremes = feed(&huge, [-1.7e308, 1.7e308, 1.79e308])
        XCTAssertEqual(extremes[2], .normal, "a range too wide to measure has nothing outside it")
    }

    func testWarmupCountsAcceptedSamplesOnly() {
        var detector = RangeDetector(tolerance: 0, warmup: 3)
        let outputs = feed(&detector, samples: [(0, 0), (1, 1), (1, 1), (2, 5), (3, 9)])
        XCTAssertEqual(outputs[3], .normal, "the duplicate did not count: 5 is the third accepted value")
        XCTAssertEqual(outputs[4].score, 0.5 + 0.5 * (4.0 / 5) / (9.0 / 5), accuracy: 1e-12)
        XCTAssertEqual(RangeDetector(tolerance: .nan, warmup: -4).tolerance, 0)
        XCTAssertEqual(RangeDetector(tolerance: 20, warmup: -4).warmup, 1)
    }
}
