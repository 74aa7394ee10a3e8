import MedicDetect
import XCTest

final class SustainedDetectorTests: XCTestCase {
    func testPendingThenFiringThenResetOnTheFirstNormalSample() {
        var d = SustainedDetector(ThresholdDetector(op: .greater, value: 10), for: 60)
        var trace: [(SustainedDetector.State, Double?, Bool)] = []
        for (time, value) in [(0.0, 5.0), (10, 20), (40, 20), (69, 20), (70, 20), (80, 20), (90, 5), (100, 20)] {
            let output = d.observe(time: time, value: value)
            trace.append((d.state, d.pendingSince, output.anomalous))
        }
        let expected: [(SustainedDetector.State, Double?, Bool)] = [
            (.inactive, nil, false),
            (.pending, 10, false),   // first anomalous sample: pending since 10
            (.pending, 10, false),   // 30 s
            (.pending, 10, false),   // 59 s
            (.firing, 10, true),     // 60 s ≥ for: firing
            (.firing, 10, true),
            (.inactive, nil, false), // recovery resets
            (.pending, 100, false),  // a new episode starts its own clock
        ]
        XCTAssertEqual(trace.map(\.0), expected.map(\.0))
        XCTAssertEqual(trace.map(\.1), expected.map(\.1))
        XCTAssertEqual(trace.map(\.2), expected.map(\.2))
    }

    func testTheScoreIsTheInnerDetectorsWhilePending() {
        var d = SustainedDetector(ThresholdDetector(op: .greater, value: 10), for: 60)
        // 20 > 10: d = 10, scale 10 → .75, but pending: not anomalous yet
        assertOutputs([d.observe(time: 0, value: 20)], [(false, 0.75)])
    }

    func testAGapDoesNotResetAPendingAnomaly() {
        var d = SustainedDetector(ThresholdDetector(op: .greater, value: 10), for: 300)
        _ = d.observe(time: 0, value: 20)
        XCTAssertEqual(d.state, .pending)
        // Nothing for an hour, then still anomalous: 3600 s since the start ≥ 300 → firing.
        XCTAssertTrue(d.observe(time: 3600, value: 20).anomalous)
        XCTAssertEqual(d.state, .firing)
        XCTAssertEqual(d.pendingSince, 0)
    }

    func testIgnoredSamplesLeaveTheStateAlone() {
        var d = SustainedDetector(ThresholdDetector(op: .greater, value: 10), for: 60)
        _ = d.observe(time: 10, value: 20)
        // NaN, an older sample and a duplicate timestamp (all normal values) must not reset it.
        XCTAssertEqual(d.observe(time: 20, value: .nan), .normal)
        XCTAssertEqual(d.observe(time: 5, value: 1), .normal)
        XCTAssertEqual(d.observe(time: 10, value: 1), .normal)
        XCTAssertEqual(d.state, .pending)
        XCTAssertEqual(d.pendingSince, 10)
        XCTAssertTrue(d.observe(time: 70, value: 20).anomalous)
    }

    func testForZeroFiresOnTheFirstAnomalousSample() {
        var d = SustainedDetector(ThresholdDetector(op: .greater, value: 10), for: 0)
        XCTAssertTrue(d.observe(time: 0, value: 11).anomalous)
        XCTAssertEqual(d.state, .firing)
        XCTAssertEqual(SustainedDetector(ThresholdDetector(op: .greater, value: 1), for: .nan).duration, 0)
    }
}
