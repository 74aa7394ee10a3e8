import MedicDetect
import XCTest

/// `adaptive_resonance`, from cases computed by hand. With window 2 a stretch's input is
/// (level₁, level₂, h₁, h₂) and its complement, where the levels are the points over the range
/// seen and h the Haar coefficients of the stretch's own shape, scaled to [0, 1]; the match of
/// an input I with a category w is |I ∧ w| / |I| (|I| = 4 here).
final class AdaptiveResonanceDetectorTests: XCTestCase {
    func testANewPatternAfterTheLearningPhaseAgainstTheVigilanceThenTheFloor() {
        var detector = AdaptiveResonanceDetector(step: 1, window: 2, levels: 2, learning: 3, capacity: 2, threshold: 0.5)
        let outputs = feed(&detector, [0, 0, 0, 10, 10])
        assertOutputs(outputs, [
            // Learning: the stretch (0, 0) is I = (0, 0, 0, 0 | 1, 1, 1, 1): the first becomes a
            // category (its match against an empty network is not counted), the second matches
            // it wholly: the vigilance is the mean match 1, capped at 0.97.
            normal0, normal0, normal0,
            // (0, 10) over the range [0, 10]: levels (0, 1); shape (0, 1), Haar (1/√2, −1/√2)
            // scaled to (1, 0): I = (0, 1, 1, 0 | 1, 0, 0, 1), |I ∧ w| = 2, match 0.5 < 0.97: a
            // new category, below the floor (no recent match yet: the vigilance). r = 0.5 / 0.03,
            // score 1 − 1/(2r) = 0.97. The vigilance becomes the mean of the matches, (1 + 0.5)/2.
            (true, 1 - 0.03),
            // (10, 10): levels (1, 1), a flat shape (0, 0): I = (1, 1, 0, 0 | 0, 0, 1, 1) matches
            // both categories 0.5 < 0.75: a new category (it replaces the one unused longest), but
            // no lower than the last match (the floor, 0.5): r = (1 − 0.5)/(1 − 0.5) = 1, 0.49·r.
            (false, 0.49),
        ])
        XCTAssertTrue(detector.explanation.contains("a new category, but no further out than the recent stretches"), detector.explanation)
    }

    func testOnlyTheSampleThatClosesABlockIsScoredAndTheSpikeOfABlockSurvives() {
        var detector = AdaptiveResonanceDetector(step: 2, window: 2, levels: 2, learning: 6, capacity: 2, threshold: 0.5)
        // Blocks (0, 0) three times: the learning phase. Then (0, 10): its point is the block's
        // maximum, 10, further from the block means' average than the minimum; the stretch
        // (0, 10) is the new pattern of the case above, scored on the block's second sample.
        let outputs = feed(&detector, [0, 0, 0, 0, 0, 0, 0, 10])
        assertOutputs(outputs, [normal0, normal0, normal0, normal0, normal0, normal0, normal0, (true, 1 - 0.03)])
        XCTAssertTrue(detector.explanation.contains("a new pattern"), detector.explanation)
    }

    func testARepeatedPatternStaysNormalAndAnUnseenOneIsANewPattern() {
        var detector = AdaptiveResonanceDetector(step: 1, window: 4, levels: 20, learning: 40, capacity: 8)
        let wave: [Double] = [10, 20, 30, 20]
        let normal = (0..<100).flatMap { _ in wave }
        let outputs = feed(&detector, normal + [10, 20, 90, 20])
        XCTAssertFalse(outputs.prefix(normal.count).contains { $0.anomalous })
        // The 90 is scored when it enters the stretch, a shape never learned.
        XCTAssertTrue(outputs[normal.count + 2].anomalous, "\(outputs.suffix(4))")
        XCTAssertGreaterThan(outputs[normal.count + 2].score, 0.5)
    }

    func testMemoryIsBoundedByTheParameters() {
        var detector = AdaptiveResonanceDetector()
        let learning = detector.heapBytes
        // 64 categories of 32 weights and one last use each, 80 recent matches and the learning
        // phase's 80 points, 8 recent points, a 32-value input: 2,312 values and six headers.
        XCTAssertLessThanOrEqual(learning, 8 * 2_312 + 6 * 32 + 8 * 64, "reserved capacity rounds up a little at most")
        var x = 1.0
        for i in 0..<20_000 {
            x = (x * 7_919).truncatingRemainder(dividingBy: 10_007)
            _ = detector.observe(time: Double(i), value: x)
        }
        XCTAssertLessThanOrEqual(detector.heapBytes, learning)
    }

    func testParametersOutsideTheirRangesAreClamped() {
        let detector = AdaptiveResonanceDetector(step: 0, window: 1_000, levels: 1, learning: 1, capacity: 0, threshold: .nan)
        XCTAssertEqual(detector.step, 1)
        XCTAssertEqual(detector.window, 64)
        XCTAssertEqual(detector.levels, 2)
        XCTAssertEqual(detector.learning, 65)
        XCTAssertEqual(detector.capacity, 1)
        XCTAssertEqual(detector.threshold, 0.5)
    }
}
