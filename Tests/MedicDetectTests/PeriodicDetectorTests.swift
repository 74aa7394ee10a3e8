import MedicDetect
import XCTest

/// `periodic`, from cases computed by hand: a sample's residual r is its distance to the nearest
/// of the previous value and the means of the same block a day and a week before; r scores as a
/// ratio to threshold × σ, σ² ← (1 − alpha)·(σ² + alpha·r²) after each residual.
final class PeriodicDetectorTests: XCTestCase {
    let day = 86_400.0

    /// Blocks of a day, two samples a day (midnight and noon): block k is day k.
    func testTheResidualIsTheDistanceToTheNearestReference() {
        var detector = PeriodicDetector(block: day, alpha: 0.5, threshold: 1, warmup: 1)
        let outputs = feed(&detector, samples: [
            (0, 10), (day / 2, 20),                 // day 0: no day before, nothing judged
            (day, 12),                              // day 0's mean 15: r = min(3, |12 − 20|) = 3, the warm-up residual; σ² = 0.5·0.5·9 = 2.25
            (1.5 * day, 30),                        // r = min(|30 − 15|, |30 − 12|) = 15 = 10 σ → 1 − 1/20
            (2 * day, 21),                          // day 1's mean (12 + 30)/2 = 21: r = 0
            (2.5 * day, 25),                        // r = min(|25 − 21|, |25 − 21|) = 4
        ])
        // σ² after 15: 0.5·(2.25 + 0.5·225) = 57.375; after 0: 28.6875, σ = 5.3561
        assertOutputs(outputs, [
            normal0, normal0, normal0,
            (true, 0.95),
            normal0,
            (false, 4 / 28.6875.squareRoot() / 2),
        ])
        XCTAssertTrue(detector.explanation.contains("25.0 is 4.0 from the nearest of the previous value 21.0, the mean a day before 21.0"),
                      detector.explanation)
    }

    /// One sample a day at noon: the same day a week before explains a value that the day
    /// before and the previous value do not.
    func testTheSameTimeAWeekBeforeIsAReference() {
        var detector = PeriodicDetector(block: day, alpha: 0.5, threshold: 1, warmup: 1)
        let values: [Double] = [100, 0, 0, 0, 0, 0, 0, 100, 50]
        let outputs = feed(&detector, values, start: day / 2, step: day)
        // Day 1: r = 100 (warm-up), σ² = 2,500; days 2-6: r = 0, σ² halves each day to 78.125;
        // day 7: the week before was 100, r = 0, σ² = 39.0625; day 8: r = 50 from each
        // reference, 50/6.25 = 8 → 1 − 1/16.
        assertOutputs(outputs, [normal0, normal0, normal0, normal0, normal0, normal0, normal0, normal0, (true, 1 - 1.0 / 16)])
        XCTAssertTrue(detector.explanation.contains("the mean a week before 0.0"), detector.explanation)
    }

    /// A block with no sample leaves no reference: the sample a day after it is not judged, and
    /// the previous value alone judges nothing.
    func testAGapLeavesNoReference() {
        var detector = PeriodicDetector(block: day, alpha: 0.5, threshold: 1, warmup: 1)
        let outputs = feed(&detector, samples: [
            (0, 5), (day, 5), (2 * day, 5),         // day 1 and 2: r = 0 (the first the warm-up)
            (4 * day, 500),                         // day 3 has no sample: no reference
            (5 * day, 5),                           // day 4 is 500, previous 500: r = 495 over σ = 0
        ])
        assertOutputs(outputs, [normal0, normal0, normal0, normal0, (true, 0.5 + 0.5 * 495 / (495 + 5))])
    }

    /// Blocks are cut by time: with blocks of 5 minutes a sample is compared with the mean of its
    /// block a day (288 blocks) before, however many samples fell in it.
    func testBlocksAreMeansOfTheirSamples() {
        var detector = PeriodicDetector(block: 300, alpha: 0.5, threshold: 1, warmup: 1)
        var samples: [(Double, Double)] = [(0, 1), (100, 3), (200, 5), (300, 40)] // block 0: mean 3
        samples += [(day, 4), (day + 10, 7)]       // block 288: against 3 → r = 1 (warm-up), then min(4, |7 − 4|) = 3
        let outputs = feed(&detector, samples: samples)
        // σ² = 0.5·0.5·1 = 0.25 → σ = 0.5; r = 3 = 6 σ → 1 − 1/12
        assertOutputs(outputs, [normal0, normal0, normal0, normal0, normal0, (true, 1 - 1.0 / 12)])
        XCTAssertEqual(PeriodicDetector().heapBytes, 32 + 16 * 337)   // one ring of (block, mean)
        XCTAssertEqual(PeriodicDetector(block: 300).heapBytes, 32 + 16 * 2017)
    }

    func testHostileSamplesChangeNothingAndScoresStayBelowOne() {
        var detector = PeriodicDetector(block: day, alpha: 0.5, threshold: 1, warmup: 1)
        let outputs = feed(&detector, samples: [
            (0, 1), (day, 2), (day, 1e300), (.nan, 3), (2 * day, .infinity), (0.5 * day, 7), (2 * day, 2), (3 * day, 1e308),
            (1e300, 5),
        ])
        XCTAssertEqual(outputs[2], .normal)
        XCTAssertEqual(outputs[3], .normal)
        XCTAssertEqual(outputs[4], .normal)
        XCTAssertEqual(outputs[5], .normal)
        XCTAssertEqual(outputs[6].score, 0)               // day 1's mean 2: r = 0
        XCTAssertTrue(outputs[7].anomalous)
        XCTAssertLessThan(outputs[7].score, 1)
        XCTAssertEqual(outputs[8], .normal)               // a time too far for a block number: no reference
    }

    /// A series whose ordinary residuals are near 1e198 is judged against its own spread, as the
    /// same series at 1e0 is: the running mean square is kept as σ once r² passes Double's range,
    /// instead of a σ² that stopped growing (which flagged every sample). Five-minute samples of
    /// a daily wave with a little noise, ten days, and one jump of 50 × the noise on day 9.
    func testAHugeScaleIsJudgedAsTheSameSeriesAtScaleOne() {
        func flagged(scale: Double) -> [Int] {
            var detector = PeriodicDetector()
            var found: [Int] = []
            for i in 0..<(10 * 288) {
                let t = Double(i) * 300
                var value = 100 * sin(2 * Double.pi * t / 86_400) + sin(Double(i) * 7.31)
                if i == 9 * 288 + 100 { value += 50 }
                if detector.observe(time: t, value: value * scale).anomalous { found.append(i) }
            }
            return found
        }
        let one = flagged(scale: 1), huge = flagged(scale: 1e198)
        XCTAssertTrue(one.contains(9 * 288 + 100), "\(one)")
        XCTAssertTrue(huge.contains(9 * 288 + 100), "\(huge)")
        XCTAssertLessThan(one.count, 20, "\(one)")
        XCTAssertLessThan(huge.count, 20, "the huge series flagged \(huge.count) of 2,880 samples")
    }

    /// A block that does not divide a day is moved to the nearest that does, so that the block a
    /// day before is exactly a day before (7 minutes: 206 blocks a day of 419.4 s).
    func testTheBlockDividesADay() {
        XCTAssertEqual(PeriodicDetector(block: 420).block, 86_400 / 206)
        XCTAssertEqual(PeriodicDetector(block: 1_800).block, 1_800)
        XCTAssertEqual(PeriodicDetector(block: 13 * 3_600).block, 86_400 / 2)
    }

    /// A block whose sum passes Double's range (300 samples of 1e307) leaves no reference, not
    /// an infinite one: the sample a day later is not judged, and the explanation says so.
    func testABlockWhoseSumOverflowsLeavesNoReference() {
        var detector = PeriodicDetector(block: 300, alpha: 0.5, threshold: 1, warmup: 1)
        var samples = (0..<300).map { (Double($0), 1e307) }
        samples.append((day, 1e307))
        let outputs = feed(&detector, samples: samples)
        XCTAssertEqual(outputs.last, .normal)
        XCTAssertFalse(detector.explanation.contains("inf"), detector.explanation)
        XCTAssertTrue(detector.explanation.hasPrefix("not judged"), detector.explanation)
    }
}
