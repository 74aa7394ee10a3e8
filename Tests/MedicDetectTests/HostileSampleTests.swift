import MedicDetect
import MedicModel
import XCTest

/// SampleAdmission's rules, checked on every kind of detector and on the `for` wrapper.
final class HostileSampleTests: XCTestCase {
    static let everyKind: [DetectorSpec] = [
        .threshold(op: .greater, value: .number(50)),
        .movingAverage(window: 5, k: 2),
        .ewma(alpha: 0.3, threshold: 2, warmup: 3),
        .iqr(window: 5, multiplier: 1.5),
        .rateOfChange(change: Percentage(30), within: Interval(seconds: 7200), direction: .both),
        .seasonal(low: 5, high: 95, minSamples: 2),
        .composite(components: [
            .init(detector: .ewma(alpha: 0.2, threshold: 3, warmup: 2), weight: 0.6),
            .init(detector: .threshold(op: .greater, value: .number(60)), weight: 0.4),
        ], threshold: 0.5),
        .context(levels: 8, span: 7, threshold: 0.5),
        .relativeEntropy(window: 8, bins: 4, models: 4, confidence: 0.9),
        .knnConformal(dimension: 3, training: 20, calibration: 30, k: 2, threshold: 0.9),
        .adaptiveResonance(step: 1, window: 4, levels: 20, learning: 50, capacity: 16, threshold: 0.5),
        .range(tolerance: 0, warmup: 5),
        .periodic(block: Interval(seconds: 3600), alpha: 0.1, threshold: 3, warmup: 5),
    ]

    /// Three weeks of hourly samples: a daily wave with a spike every 37 hours.
    static let clean: [(Double, Double)] = (0..<504).map { (i: Int) -> (Double, Double) in
        let time: Double = 1_704_067_200 + Double(i) * 3600
        let wave: Double = 10 * sin(Double(i) * Double.pi / 12)
        let spike: Double = i % 37 == 0 ? 50 : 0
        return (time, 40 + wave + spike)
    }

    func testCoversEveryKind() {
        XCTAssertEqual(Set(Self.everyKind.map(\.kind)), Set(DetectorKind.allCases))
    }

    func testIgnoredSamplesReturnNormalAndChangeNothing() {
        for spec in Self.everyKind {
            var reference = Detectors.make(spec)
            let expected = feed(any: &reference, samples: Self.clean)
            XCTAssert(expected.contains { $0.anomalous }, "\(spec.kind): the clean series has anomalies to keep")

            var detector = Detectors.make(spec)
            var got: [DetectorOutput] = []
            for (index, (time, value)) in Self.clean.enumerated() {
                got.append(detector.observe(time: time, value: value))
                // After each real sample: garbage that must all be ignored.
                let hostile: [(Double, Double)] = [
                    (time + 1, .nan), (time + 2, .infinity), (time + 3, -.infinity),  // non-finite values
                    (time - 1, 1e6), (time - 3600, -1e6),                             // out of order
                    (time, 1e6),                                                      // duplicate: the first wins
                    (.nan, 1e6), (.infinity, 1), (-.infinity, 1),                     // non-finite times
                ]
                for (t, v) in hostile {
                    XCTAssertEqual(detector.observe(time: t, value: v), .normal, "\(spec.kind) at sample \(index): (\(t), \(v))")
                }
            }
            XCTAssertEqual(got, expected, "\(spec.kind): the real samples' outputs are those of the clean series")
        }
    }

    func testExtremeValuesAndTimesNeverTrapNorLeaveTheUnitInterval() {
        let values: [Double] = [1.7e308, -1.7e308, .leastNonzeroMagnitude, 0, -0.0, 1e-300, 1e300, -1, .greatestFiniteMagnitude]
        for spec in Self.everyKind {
            var detector = Detectors.make(spec)
            var time = -1e300
            for round in 0..<50 {
                for (i, value) in values.enumerated() {
                    let output = detector.observe(time: time, value: value * Double((round + i) % 3 - 1))
                    XCTAssert(output.score >= 0 && output.score <= 1, "\(spec.kind): score \(output.score)")
                    time = time < 0 ? time / 1e10 + 1 : time * 10 + 1
                }
            }
            // Times so large that t − within and t / 3600 lose all precision are still accepted.
            XCTAssertFalse(detector.observe(time: 1.7e308, value: 1).score.isNaN)
        }
    }
}
