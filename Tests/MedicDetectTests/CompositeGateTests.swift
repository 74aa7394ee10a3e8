import MedicDetect
import XCTest

/// A composite's gates, from cases computed by hand: a gate is not averaged; its score s maps to
/// threshold + (1 − threshold)·(s − 0.5)/0.5 from 0.5 up (threshold·s/0.5 below), and the
/// composite scores the larger of that and the mean of the other components.
final class CompositeGateTests: XCTestCase {
    /// A range detector that scores nothing in these short series (it is still warming up).
    private var silent: RangeDetector { RangeDetector(tolerance: 0, warmup: 1_000) }

    func testAGateAtItsLimitFiresAloneWhereTheMeanWouldNot() {
        // The range detector scores 8 after [5, 7] 2/3, 11 after [5, 8] 0.75 (RangeDetectorTests).
        let values: [Double] = [5, 7, 8, 6, 11]
        var gated = CompositeDetector([.init(RangeDetector(tolerance: 0, warmup: 2)), .init(silent),
                                       .init(RangeDetector(tolerance: 0, warmup: 2), gate: true)], threshold: 0.8)
        assertOutputs(feed(&gated, values), [
            normal0, normal0,
            (true, 0.8 + 0.2 * (2.0 / 3 - 0.5) / 0.5), // gate 0.8667 above the mean (2/3 + 0)/2 = 1/3
            normal0,
            (true, 0.8 + 0.2 * 0.5),                   // gate 0.9 above the mean 0.375
        ])
        // The same three averaged: (2/3 + 0 + 2/3)/3 = 0.444, below 0.8.
        var averaged = CompositeDetector([.init(RangeDetector(tolerance: 0, warmup: 2)), .init(silent),
                                          .init(RangeDetector(tolerance: 0, warmup: 2))], threshold: 0.8)
        let outputs = feed(&averaged, values)
        XCTAssertEqual(outputs[2].score, 4.0 / 9, accuracy: 1e-12)
        XCTAssertFalse(outputs[2].anomalous)
    }

    func testAGateIsMappedOntoTheThresholdAndTheMeanWinsWhenHigher() {
        // knn_conformal as KNNConformalDetectorTests computes it: 10 scores 1 − (1/6)/4 = 0.9583,
        // the last value 7 exactly 0.5, the others 0.
        let values: [Double] = [0, 1, 2, 3, 4, 10, 5, 7]
        func knn() -> KNNConformalDetector { KNNConformalDetector(dimension: 1, training: 2, calibration: 3, k: 1, threshold: 0.7) }
        var detector = CompositeDetector([.init(silent), .init(knn(), gate: true)], threshold: 0.6)
        let outputs = feed(&detector, values)
        XCTAssertEqual(outputs[5].score, 0.6 + 0.4 * (1 - (1.0 / 6) / 4 - 0.5) / 0.5, accuracy: 1e-12)
        XCTAssertEqual(outputs[7].score, 0.6, accuracy: 1e-12)
        XCTAssertTrue(outputs[7].anomalous, "a gate at its limit lands on the threshold")
        // At a composite threshold of 0.2 the gate's 0.5 lands on 0.2; the same knn averaged says 0.5.
        var mean = CompositeDetector([.init(knn()), .init(knn(), gate: true)], threshold: 0.2)
        XCTAssertEqual(feed(&mean, values)[7].score, 0.5, accuracy: 1e-12, "the mean (0.5) is above the gate's 0.2")
    }

    func testAGateOfWeightZeroIsOff() {
        var detector = CompositeDetector([.init(silent), .init(RangeDetector(tolerance: 0, warmup: 2), weight: 0, gate: true)],
                                         threshold: 0.5)
        XCTAssertTrue(feed(&detector, [5, 7, 8, 6, 11]).allSatisfy { $0 == .normal })
        XCTAssertEqual(detector.weights, [1, 0])
    }
}
