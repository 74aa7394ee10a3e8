import MedicDetect
import MedicModel
import XCTest

final class CompositeDetectorTests: XCTestCase {
    func testWeightedMeanOfTheComponentScores() {
        var d = CompositeDetector([
            .init(ThresholdDetector(op: .greater, value: 10), weight: 3),
            .init(ThresholdDetector(op: .greater, value: 20), weight: 1),
        ], threshold: 0.5)
        // 5: both 0 → 0
        // 15: (3·(0.5 + 0.5·5/15) + 1·0) / 4 = (3·.66667)/4 = .5 → at the threshold: anomalous
        // 30: (3·(0.5 + 0.5·20/30) + 1·(0.5 + 0.5·10/30)) / 4 = (2.5 + .66667)/4 = .79167
        let s15 = 3 * (0.5 + 0.5 * 5 / 15) / 4
        let s30 = (3 * (0.5 + 0.5 * 20 / 30) + (0.5 + 0.5 * 10 / 30)) / 4
        assertOutputs(feed(&d, [5, 15, 30]), [normal0, (true, s15), (true, s30)])
        XCTAssertEqual(CompositeSeverity(score: s30), .high)
    }

    func testRefractoryHalvesScoresNotAboveTheAlertForItsPeriod() {
        var d = CompositeDetector([.init(ThresholdDetector(op: .greater, value: 10))], threshold: 0.5, refractory: 300)
        // > 10 scores 0.5 + 0.5·d/(d + 10): 30 → .8333, 20 → .75, 50 → .9, 5 → 0.
        let s30 = 0.5 + 0.5 * 20 / 30, s20 = 0.75, s50 = 0.9
        let outputs = feed(&d, samples: [(0, 30), (60, 20), (120, 50), (180, 30), (420, 30), (480, 5)])
        assertOutputs(outputs, [
            (true, s30),        // the alert; its period runs to 300
            (false, s20 / 2),   // not above the alert's .8333: halved
            (true, s50),        // above it: whole, a new peak, the period now runs to 420
            (false, s30 / 2),   // not above .9: halved
            (true, s30),        // 420 − 120 = 300: the period is over
            normal0,
        ])
    }

    func testADampedScoreStillAnomalousExtendsTheRefractoryPeriod() {
        var d = CompositeDetector([.init(ThresholdDetector(op: .greater, value: 10))], threshold: 0.3, refractory: 300)
        let s30 = 0.5 + 0.5 * 20 / 30
        // 240: halved to .4167, still ≥ 0.3, so the period now runs from 240; 480 is inside it.
        assertOutputs(feed(&d, samples: [(0, 30), (240, 30), (480, 30), (780, 30)]),
                      [(true, s30), (true, s30 / 2), (true, s30 / 2), (true, s30)])
    }

    func testNoRefractoryByDefaultAndNaNOrNegativeMeansNone() {
        for refractory in [0, -5, Double.nan] {
            var d = CompositeDetector([.init(ThresholdDetector(op: .greater, value: 10))], refractory: refractory)
            XCTAssertEqual(d.refractory, 0)
            let s30 = 0.5 + 0.5 * 20 / 30
            assertOutputs(feed(&d, [30, 30]), [(true, s30), (true, s30)])
        }
        XCTAssertEqual(CompositeDetector([]).refractory, 0)
    }

    func testZeroNegativeAndNaNWeightsNeverFire() {
        var none = CompositeDetector([.init(ThresholdDetector(op: .greater, value: 0), weight: 0)], threshold: 0)
        assertOutputs(feed(&none, [1, 100]), [normal0, normal0])
        var empty = CompositeDetector([], threshold: 0)
        assertOutputs(feed(&empty, [1]), [normal0])
        let odd = CompositeDetector([
            .init(ThresholdDetector(op: .greater, value: 0), weight: -2),
            .init(ThresholdDetector(op: .greater, value: 0), weight: .nan),
            .init(ThresholdDetector(op: .greater, value: 0), weight: .infinity),
        ])
        XCTAssertEqual(odd.weights, [0, 0, .greatestFiniteMagnitude])
    }

    func testHugeWeightsDoNotOverflow() {
        var d = CompositeDetector([
            .init(ThresholdDetector(op: .greater, value: 0), weight: 1e308),
            .init(ThresholdDetector(op: .less, value: 0), weight: 1e308),
        ])
        // Each half of the weight: (.75 + 0)/2 = .375 for the value 1 (d = 1, scale 1 → .75)
        assertOutputs(feed(&d, [1]), [(false, 0.375)])
    }

    func testAScoreOfZeroIsNeverAnomalousEvenWithThresholdZero() {
        var d = CompositeDetector([.init(ThresholdDetector(op: .greater, value: 10))], threshold: 0)
        assertOutputs(feed(&d, [5, 11]), [normal0, (true, 0.5 + 0.5 * 1 / 11)])
    }

    func testSeveritiesOfSection1_4() {
        let cases: [(Double, CompositeSeverity?)] = [
            (1, .critical), (0.95, .critical), (0.9, .high), (0.76, .high), (0.75, .medium), (0.51, .medium),
            (0.5, .low), (0.31, .low), (0.3, .info), (0.11, .info), (0.1, nil), (0, nil), (.nan, nil),
        ]
        for (score, severity) in cases {
            XCTAssertEqual(CompositeSeverity(score: score), severity, "score \(score)")
        }
        XCTAssertEqual(CompositeSeverity.critical.severity, .sev0)
        XCTAssertEqual(CompositeSeverity.low.severity, .sev3)
        XCTAssertEqual(CompositeSeverity.info.severity, .info)
        XCTAssert(CompositeSeverity.info < .low && CompositeSeverity.high < .critical)
    }
}
