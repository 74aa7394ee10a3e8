import MedicDetect
import XCTest

/// A finite anomaly never scores exactly 1, however far past its limit: rows that would all
/// round to 1 in double precision still rank by size (a NAB threshold can separate them).
final class ScoreSaturationTests: XCTestCase {
    /// An EWMA at its defaults over a disk's writes: noise around 10⁷ bytes, then 1,000 rows of
    /// zeros (its mean and σ decay to about 10⁻⁹⁰), then one write of `jump` bytes.
    private func ewmaScore(afterZerosJumpingTo jump: Double) -> Double {
        var detector = EWMADetector()
        var time = 0.0
        for i in 0..<500 {
            time += 60
            _ = detector.observe(time: time, value: 1e7 + Double((i * 7_919) % 2_000_000) - 1e6)
        }
        for _ in 0..<1_000 {
            time += 60
            _ = detector.observe(time: time, value: 0)
        }
        let output = detector.observe(time: time + 60, value: jump)
        XCTAssertTrue(output.anomalous)
        return output.score
    }

    func testAJumpAfterALongRunOfZerosIsBelowOneAndRanksBySize() {
        let small = ewmaScore(afterZerosJumpingTo: 5e7), large = ewmaScore(afterZerosJumpingTo: 5e9)
        XCTAssertLessThan(small, 1)
        XCTAssertLessThan(large, 1)
        XCTAssertGreaterThan(small, 0.999_999)
        XCTAssertGreaterThan(large, small, "a bigger jump ranks higher")
    }

    func testFarBeyondATinyBoundIsBelowOneAndRanksBySize() {
        var scores: [Double] = []
        for value in [1e10, 1e11, 1e300] {
            var detector = ThresholdDetector(op: .greater, value: 1e-300)
            scores.append(detector.observe(time: 1, value: value).score)
        }
        XCTAssertTrue(scores.allSatisfy { $0 < 1 && $0 > 0.999_999 }, "\(scores)")
        XCTAssertEqual(scores, scores.sorted())
        XCTAssertEqual(Set(scores).count, 3, "\(scores)")
    }

    func testScoresUpToTheExactRangeAreUnchanged() {
        // 0.5 at the limit, 0.75 at twice it, 1 − 1/(2r) further out (here r = 1,000).
        var detector = ThresholdDetector(op: .greater, value: 10)
        XCTAssertEqual(detector.observe(time: 1, value: 20).score, 0.75)
        XCTAssertEqual(detector.observe(time: 2, value: 10 + 9_990).score, 0.5 + 0.5 * 9_990 / 10_000)
    }
}
