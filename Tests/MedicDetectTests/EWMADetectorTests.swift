import MedicDetect
import XCTest

final class EWMADetectorTests: XCTestCase {
    func testDeviationAgainstTheExponentiallyWeightedHistory() {
        var d = EWMADetector(alpha: 0.5, threshold: 2, warmup: 2)
        // δ = x − ewma (before x); then ewma += α·δ, σ² = (1 − α)(σ² + α·δ²)
        // 1: 10 starts: ewma 10, σ² 0                              (training)
        // 2: 12: δ 2, ewma 11, σ² = .5(0 + .5·4) = 1                (training: warmup 2)
        // 3: 10: δ −1, limit 2·√1 = 2, r = .5, score .25; ewma 10.5, σ² = .5(1 + .5·1) = .75
        // 4: 11: δ .5, limit 2·√.75 = 1.73205, r = .28868, score .14434; ewma 10.75, σ² = .5(.75 + .5·.25) = .4375
        // 5: 30: δ 19.25, limit 2·√.4375 = 1.32288, r = 14.5516, score 1 − 1/(2r) = .96564
        let r4 = 0.5 / (2 * 0.75.squareRoot())
        let r5 = 19.25 / (2 * 0.4375.squareRoot())
        assertOutputs(feed(&d, [10, 12, 10, 11, 30]), [normal0, normal0, (false, 0.25), (false, r4 / 2), (true, 1 - 1 / (2 * r5))])
    }

    func testWarmupSamplesOnlyTrain() {
        var trained = EWMADetector(alpha: 0.5, threshold: 2, warmup: 3)
        // Sample 3 is still training: no verdict however far off.
        assertOutputs(feed(&trained, [10, 10, 100]), [normal0, normal0, normal0])
        var ready = EWMADetector(alpha: 0.5, threshold: 2, warmup: 3)
        // Sample 4 is judged: the history is flat (σ = 0) and 100 is off it → anomalous,
        // scored against the average's size: 0.5 + 0.5·90/(90 + 10) = .95
        assertOutputs(feed(&ready, [10, 10, 10, 100]), [normal0, normal0, normal0, (true, 0.95)])
        var none = EWMADetector(alpha: 0.5, threshold: 2, warmup: 0)
        // Warmup 0: the first sample starts the average, the second is judged: 0.5 + 0.5·1/(1 + 7)
        assertOutputs(feed(&none, [7, 8]), [normal0, (true, 0.5 + 0.5 / 8)])
    }

    func testFlatLineIsNormalUntilTheValueChanges() {
        var d = EWMADetector(alpha: 0.2, threshold: 3, warmup: 0)
        // 7.5 off a flat 7: 0.5 + 0.5·0.5/(0.5 + 7) = .53333
        assertOutputs(feed(&d, [7, 7, 7, 7, 7.5]), [normal0, normal0, normal0, normal0, (true, 0.5 + 0.5 * 0.5 / 7.5)])
    }

    func testAverageThatCannotReachAFlatLineByRoundingDoesNotFire() {
        // After 10 and 12 the average approaches 11 but may stop an ulp short while σ decays to 0.
        var d = EWMADetector(alpha: 0.3, threshold: 3, warmup: 0)
        let outputs = feed(&d, [10, 12] + Array(repeating: 11.1, count: 10_000))
        XCTAssertFalse(outputs.suffix(9_000).contains { $0.anomalous || $0.score > 0 })
    }

    func testParametersAreClamped() {
        XCTAssertEqual(EWMADetector(alpha: 0).alpha, 0.2)
        XCTAssertEqual(EWMADetector(alpha: .nan).alpha, 0.2)
        XCTAssertEqual(EWMADetector(alpha: 7).alpha, 1)
        XCTAssertEqual(EWMADetector(threshold: -2).threshold, 0)
        XCTAssertEqual(EWMADetector(warmup: -1).warmup, 0)
    }
}
