import MedicDetect
import MedicModel
import XCTest

final class ThresholdDetectorTests: XCTestCase {
    func testScoresHalfAtTheBoundRisingWithTheDistancePastIt() {
        var d = ThresholdDetector(op: .greater, value: 85)
        // score = 0.5 + 0.5·d/(d + 85), d = value − 85, only when value > 85
        assertOutputs(feed(&d, [80, 85, 90, 170, 255]), [
            normal0,                                      // 80 > 85 does not hold
            normal0,                                      // 85 > 85 does not hold
            (true, 0.5 + 0.5 * 5 / 90),                   // d = 5: 0.52778
            (true, 0.75),                                 // d = 85 (twice the bound): 0.5 + 0.5·85/170
            (true, 0.5 + 0.5 * 170 / 255),                // d = 170: 0.83333
        ])
    }

    func testInclusiveBoundIsAnomalousAtTheBoundWithScoreHalf() {
        var d = ThresholdDetector(op: .greaterOrEqual, value: 85)
        assertOutputs(feed(&d, [85]), [(true, 0.5)])
    }

    func testLowerBoundsMeasureTheDistanceBelow() {
        var d = ThresholdDetector(op: .less, value: 10)
        // 5 < 10: d = 5, scale 10 → 0.5 + 0.5·5/15 = 0.66667; 10 < 10 does not hold
        assertOutputs(feed(&d, [5, 10, -10]), [(true, 0.5 + 0.5 * 5 / 15), normal0, (true, 0.5 + 0.5 * 20 / 30)])
    }

    func testZeroBoundUsesScaleOneAndEqualityScoresOne() {
        var above = ThresholdDetector(op: .greater, value: 0)
        // 1 > 0: d = 1, scale 1 → 0.5 + 0.5·1/2 = 0.75
        assertOutputs(feed(&above, [1]), [(true, 0.75)])
        var equal = ThresholdDetector(op: .equal, value: 0)
        assertOutputs(feed(&equal, [0, 1]), [(true, 1), normal0])
        var differs = ThresholdDetector(op: .notEqual, value: 4)
        // 6 != 4: d = 2, scale 4 → 0.5 + 0.5·2/6
        assertOutputs(feed(&differs, [4, 6]), [normal0, (true, 0.5 + 0.5 * 2 / 6)])
    }

    func testQuantitiesCompareInTheirBaseUnit() {
        var percent = ThresholdDetector(op: .greater, value: .percentage(90))
        var seconds = ThresholdDetector(op: .greater, value: .duration(Interval(seconds: 2)))
        var bytes = ThresholdDetector(op: .greater, value: .size(ByteSize(bytes: 100_000_000)))
        XCTAssertEqual(percent.bound, 90)
        XCTAssertFalse(percent.observe(time: 0, value: 0.95).anomalous, "90% is 90, not 0.9")
        // 3 s against 2 s: d = 1, scale 2 → 0.5 + 0.5·1/3
        XCTAssertEqual(seconds.observe(time: 0, value: 3).score, 0.5 + 0.5 / 3, accuracy: 1e-12)
        XCTAssertTrue(bytes.observe(time: 0, value: 150_000_000).anomalous)
    }
}
