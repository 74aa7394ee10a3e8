import MedicDetect
import XCTest

/// `relative_entropy`, from a case computed by hand: window 4, 2 bins, 1 model, confidence
/// 0.99. The limit is the Wilson–Hilferty 0.99 quantile of chi-square with 1 degree:
/// (1 − 2/9 + 2.3263479·√(2/9))³ = 6.5857731. Models are smoothed: (count + 0.5) / (4 + 1).
final class RelativeEntropyDetectorTests: XCTestCase {
    func testDistributionsAgainstTheRememberedOne() {
        var detector = RelativeEntropyDetector(window: 4, bins: 2, models: 1, confidence: 0.99)
        XCTAssertEqual(detector.limit, 6.585773096926759, accuracy: 1e-6)
        let limit = detector.limit
        let outputs = feed(&detector, [0, 0, 1, 1, 0, 0, 0, 0, -1, -1, -1])
        assertOutputs(outputs, [
            normal0, normal0, normal0,
            // [0 0 1 1] over [0, 1]: counts (2, 2); no model yet → remembered as Q = (0.5, 0.5).
            normal0,
            normal0, normal0,  // [0 0 1 1] again: D = 0
            // [0 0 0 1]: P = (0.75, 0.25), D = 0.75·ln 1.5 + 0.25·ln 0.5 = 0.1308120, 2·4·D = 1.0464963
            (false, 1.0464962875290957 / limit / 2),
            // [0 0 0 0]: P = (1, 0), D = ln 2, 2·4·D = 5.5451774 → 0.4210; a window after the model
            // was remembered and within the limit: the model is used, not replaced
            (false, 5.545177444479562 / limit / 2),
            // −1 widens the range to [−1, 1]: 0 now falls in bin 1, and the model [0 0 1 1] is
            // binned again: counts (0, 4), Q = (0.1, 0.9). [−1 0 0 0]: P = (0.25, 0.75),
            // D = 0.25·ln 2.5 + 0.75·ln(0.75/0.9) = 0.0923315 → 0.7386521
            (false, 0.7386521229845819 / limit / 2),
            // [−1 −1 0 0]: P = (0.5, 0.5), D = 0.5·ln 5 + 0.5·ln(0.5/0.9) → 4.0866050
            (false, 4.086604990127926 / limit / 2),
            // [−1 −1 −1 0]: P = (0.75, 0.25), D = 0.75·ln 7.5 + 0.25·ln(0.25/0.9) → 9.5275504,
            // past the limit: r = 9.5275504 / 6.5857731 = 1.4467, score 1 − 1/(2r) = 0.6544
            (true, 0.6543826693071328),
        ])
        XCTAssertTrue(detector.explanation.contains("2·4·D = 9.52755"), detector.explanation)
    }

    func testMemoryIsFixedAtCreation() {
        var detector = RelativeEntropyDetector()
        // Window 52, 8 models of 52 values, 8 distributions of 10 bins, 8 uses, 10 counts.
        let expected = 32 * 5 + 8 * (52 + 8 * 52 + 80 + 8 + 10)
        XCTAssertEqual(detector.heapBytes, expected)
        for i in 0..<5_000 { _ = detector.observe(time: Double(i), value: Double((i * 7_919) % 1_000) + Double(i)) }
        XCTAssertEqual(detector.heapBytes, expected)
    }
}
