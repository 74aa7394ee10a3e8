import MedicDetect
import XCTest

final class MovingAverageDetectorTests: XCTestCase {
    func testJudgesEachSampleAgainstTheWindowBeforeIt() {
        var d = MovingAverageDetector(window: 4, k: 2)
        let outputs = feed(&d, [10, 12, 10, 12, 13, 15, 12])
        // 1-4 fill the window.
        // 5: window [10 12 10 12]: mean 11, σ² = (1+1+1+1)/4 = 1, k·σ = 2; |13 − 11| = 2 is not > 2:
        //    normal, ratio 1 → score 0.5
        // 6: window [12 10 12 13]: mean 11.75, squares .0625 + 3.0625 + .0625 + 1.5625 = 4.75,
        //    σ = √(4.75/4) = 1.08972, k·σ = 2.17945; |15 − 11.75| = 3.25 → r = 1.49121,
        //    score 1 − 1/(2r) = 0.66470
        // 7: window [10 12 13 15]: mean 12.5, squares 6.25 + .25 + .25 + 6.25 = 13, σ = √3.25,
        //    k·σ = 3.60555; |12 − 12.5| = 0.5 → r = 0.13868, score r/2 = 0.06934
        let r6 = 3.25 / (2 * (4.75 / 4).squareRoot())
        let r7 = 0.5 / (2 * 3.25.squareRoot())
        assertOutputs(outputs, [normal0, normal0, normal0, normal0, (false, 0.5), (true, 1 - 1 / (2 * r6)), (false, r7 / 2)])
    }

    func testFlatLineIsNormalUntilTheValueChanges() {
        var d = MovingAverageDetector(window: 3, k: 3)
        // σ = 0: the flat value deviates by 0 (normal, score 0); 5.001 deviates with a limit of 0:
        // anomalous, scored against the mean's size: 0.5 + 0.5·0.001/(0.001 + 5) = .50010
        assertOutputs(feed(&d, [5, 5, 5, 5, 5, 5.001]), [normal0, normal0, normal0, normal0, normal0, (true, 0.5 + 0.5 * 0.001 / 5.001)])
    }

    func testABiggerJumpOffAFlatLineRanksHigher() {
        var small = MovingAverageDetector(window: 3), big = MovingAverageDetector(window: 3), offZero = MovingAverageDetector(window: 3)
        // 10 → 15: 0.5 + 0.5·5/15 = .66667; 10 → 100: 0.5 + 0.5·90/100 = .95; a flat 0 counts |mean| as 1: 0 → 3: 0.5 + 0.5·3/4
        assertOutputs([feed(&small, [10, 10, 10, 15]).last!, feed(&big, [10, 10, 10, 100]).last!, feed(&offZero, [0, 0, 0, 3]).last!],
                      [(true, 0.5 + 0.5 * 5 / 15), (true, 0.95), (true, 0.875)])
    }

    func testLongFlatLineOfAnInexactValueNeverFiresEvenWithKZero() {
        // 0.1 has no exact binary form; 1,000 slides and 10 recomputes must not invent a deviation.
        var d = MovingAverageDetector(window: 100, k: 0)
        XCTAssertFalse(feed(&d, Array(repeating: 0.1, count: 1000)).contains { $0.anomalous || $0.score > 0 })
    }

    func testLargeOffsetsDoNotCancel() {
        // Values around 1e9 alternating ±0.5 for 100,000 samples: σ = 0.5 exactly, mean 1e9 + 0.5.
        var d = MovingAverageDetector(window: 10, k: 2)
        _ = feed(&d, (0..<100_000).map { 1e9 + Double($0 % 2) })
        // window of five 1e9 and five 1e9+1: mean 1e9 + 0.5, σ = 0.5, k·σ = 1; 1e9 + 3 deviates by 2.5 → r 2.5
        let output = d.observe(time: 1e7, value: 1e9 + 3)
        XCTAssertTrue(output.anomalous)
        XCTAssertEqual(output.score, 1 - 1 / (2 * 2.5), accuracy: 1e-6)
    }

    func testRecoversFromValuesThatOverflowTheVariance() {
        var d = MovingAverageDetector(window: 4, k: 2)
        _ = feed(&d, [1.7e308, -1.7e308, 1.7e308, -1.7e308])
        // Four slides replace the window, the fourth recomputes it exactly: from then on as usual.
        let outputs = feed(&d, [10, 12, 10, 12, 10, 12, 10, 12, 13], start: 1000)
        XCTAssertTrue(outputs.allSatisfy { !$0.score.isNaN && $0.score >= 0 && $0.score <= 1 })
        // The last one against [10 12 10 12]: mean 11, k·σ = 2, |13 − 11| = 2 → normal, score 0.5.
        assertOutputs([outputs.last!], [(false, 0.5)])
    }

    func testParametersAreClampedToTheLoadersRange() {
        XCTAssertEqual(MovingAverageDetector(window: -5).window, 2)
        XCTAssertEqual(MovingAverageDetector(window: .max).window, 1_000_000)
        XCTAssertEqual(MovingAverageDetector(k: .nan).k, 3)
        XCTAssertEqual(MovingAverageDetector(k: -1).k, 0)
        XCTAssertEqual(MovingAverageDetector().window, 100)
    }
}
