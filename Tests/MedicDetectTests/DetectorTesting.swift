import MedicDetect
import XCTest

/// Feeds `values` to `detector`, one every `step` seconds from `start`, and returns each output.
func feed<D: StreamingDetector>(_ detector: inout D, _ values: [Double], start: Double = 0, step: Double = 60) -> [DetectorOutput] {
    values.enumerated().map { detector.observe(time: start + Double($0.offset) * step, value: $0.element) }
}

/// Feeds (time, value) samples as given.
func feed<D: StreamingDetector>(_ detector: inout D, samples: [(Double, Double)]) -> [DetectorOutput] {
    samples.map { detector.observe(time: $0.0, value: $0.1) }
}

/// The same for a detector built by `Detectors.make`.
func feed(any detector: inout any StreamingDetector, samples: [(Double, Double)]) -> [DetectorOutput] {
    samples.map { detector.observe(time: $0.0, value: $0.1) }
}

/// Asserts scores (to 1e-9) and anomaly flags, sample by sample.
func assertOutputs(_ actual: [DetectorOutput], _ expected: [(anomalous: Bool, score: Double)],
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.count, expected.count, "number of outputs", file: file, line: line)
    for (index, (got, want)) in zip(actual, expected).enumerated() {
        XCTAssertEqual(got.anomalous, want.anomalous, "sample \(index + 1): anomalous", file: file, line: line)
        XCTAssertEqual(got.score, want.score, accuracy: 1e-9, "sample \(index + 1): score", file: file, line: line)
    }
}

let normal0 = (anomalous: false, score: 0.0)
