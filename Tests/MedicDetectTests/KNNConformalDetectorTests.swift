import MedicDetect
import XCTest

/// `knn_conformal`, from cases computed by hand: α_t = the sum of the distances of the last
/// `dimension` values to their `k` nearest among the `training` stretches before; the score is
/// the share of the calibration set (n held) strictly below α_t over n + 1, or, above them all,
/// 1 − (max/α_t)/(n + 1).
final class KNNConformalDetectorTests: XCTestCase {
    func testOneDimensionalStretchesRankedAgainstTheCalibrationSet() {
        var detector = KNNConformalDetector(dimension: 1, training: 2, calibration: 3, k: 1, threshold: 0.7)
        let outputs = feed(&detector, [0, 1, 2, 3, 4, 10, 5, 7])
        assertOutputs(outputs, [
            normal0, normal0,        // fill the history (the first stretch with 2 before it is the third)
            normal0,                 // 2: α = min(|2−1|, |2−0|) = 1; calibration empty → joins it: {1}
            normal0,                 // 3: α = 1; none of {1} below → 0/2 = 0; {1, 1}
            normal0,                 // 4: α = 1; 0/3; {1, 1, 1}
            (true, 1 - (1.0 / 6) / 4), // 10: α = min(6, 7) = 6 above all three: 1 − (1/6)/4 = 0.958; {6, 1, 1}
            normal0,                 // 5: α = min(|5−10|, |5−4|) = 1; none below → 0; {6, 1, 1}
            (false, 2.0 / 4),        // 7: α = min(2, 3) = 2; the two 1s below → 2/4 = 0.5 < 0.7
        ])
        XCTAssertTrue(detector.explanation.contains("more than 2 of the last 3"), detector.explanation)
    }

    func testEuclideanDistanceOverTheStretch() {
        var detector = KNNConformalDetector(dimension: 2, training: 1, calibration: 2, k: 1, threshold: 0.5)
        let outputs = feed(&detector, [0, 0, 3, 4])
        // 3: (3, 0) against (0, 0): α = 3, calibration empty. 4: (4, 3) against (3, 0):
        // α = √(1 + 9) = √10 above {3} → 1 − (3/√10)/2 = 0.5257.
        assertOutputs(outputs, [normal0, normal0, normal0, (true, 1 - (3 / 10.0.squareRoot()) / 2)])
    }

    func testAboveAnAllZeroCalibrationSetRanksByTheValueAndStaysBelowOne() {
        var detector = KNNConformalDetector(dimension: 1, training: 1, calibration: 2, k: 1)
        let outputs = feed(&detector, [4, 4, 4, 4, 6, 4, 1e300])
        // α = 0 on the flat line; 6: α = 2 above {0, 0}: ratio 1/(1 + 2/6) = 0.75 → 1 − 0.75/3 = 0.75.
        XCTAssertEqual(outputs[4].score, 1 - 0.75 / 3, accuracy: 1e-12)
        XCTAssertLessThan(outputs[6].score, 1)
        XCTAssertGreaterThan(outputs[6].score, 0.66)
    }

    /// The sliding squared distances agree with distances computed in full, across the
    /// periodic exact recomputation.
    func testSlidingDistancesMatchAFullComputation() {
        let values: [Double] = (0..<3_000).map { (i: Int) -> Double in
            Double((i * 7_919) % 997) + (i % 500 == 0 ? 5_000 : 0)
        }
        var detector = KNNConformalDetector(dimension: 4, training: 6, calibration: 20, k: 2, threshold: 0.9)
        let scores: [Double] = feed(&detector, values).map { $0.score }
        // A reference written the slow way: every distance from scratch.
        var alphas: [Double] = []
        var reference: [Double] = []
        for t in values.indices {
            guard t >= 4 + 6 - 1 else { reference.append(0); continue }
            var distances: [Double] = []
            for lag in 1...6 {
                var squared = 0.0
                for j in 0..<4 {
                    let d: Double = values[t - j] - values[t - j - lag]
                    squared += d * d
                }
                distances.append(squared.squareRoot())
            }
            distances.sort()
            let alpha = distances[0] + distances[1]
            let held: [Double] = Array(alphas.suffix(20))
            alphas.append(alpha)
            guard held.count >= 2 else { reference.append(0); continue }
            let below = held.count { $0 < alpha }
            let largest = held.max()!, n = Double(held.count + 1)
            reference.append(below == held.count && alpha > largest ? 1 - max(largest / alpha, 1e-9) / n : Double(below) / n)
        }
        for index in values.indices {
            XCTAssertEqual(scores[index], reference[index], accuracy: 1e-9, "sample \(index + 1)")
        }
    }

    func testMemoryIsFixedAtCreation() {
        var detector = KNNConformalDetector()
        // History 61 values held twice, 50 squared distances, calibration 100, 3 nearest: one array, one header.
        let expected = 32 + 8 * (2 * 61 + 50 + 100 + 3)
        XCTAssertEqual(detector.heapBytes, expected)
        for i in 0..<5_000 { _ = detector.observe(time: Double(i), value: Double((i * 7_919) % 1_000)) }
        XCTAssertEqual(detector.heapBytes, expected)
    }
}
