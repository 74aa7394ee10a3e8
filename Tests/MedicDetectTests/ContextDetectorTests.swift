import MedicDetect
import XCTest

/// `context`, from cases computed by hand. Bins are over the range seen so far, computed on
/// halves: width = high/2 − low/2, position = (x/2 − low/2) / width, bin = ⌊position·levels⌋
/// (the top of the range in the last bin). Score = 0.98·novelty + 0.02·jump, jump =
/// AnomalyScore.ratio(|x/2 − previous/2|, width): 0.5 when the value moved by the whole range.
final class ContextDetectorTests: XCTestCase {
    func testOneLagTwoLevels() {
        var detector = ContextDetector(levels: 2, span: 1)
        let outputs = feed(&detector, [0, 10, 0, 10, 0, 5, 20])
        assertOutputs(outputs, [
            normal0,                       // 0: fills the context (bin 0)
            (true, 0.98 + 0.02 * 0.5),     // 10: range [0, 10], bin 1; fact "0 then 1" new, sequence (0, 1) new → novelty 1; jump 5/5 → 0.5
            (true, 0.98 + 0.02 * 0.5),     // 0: "1 then 0" new, (1, 0) new → 1
            (false, 0.02 * 0.5),           // 10: both seen → novelty 0, only the jump
            (false, 0.02 * 0.5),           // 0: seen
            (false, 0.02 * 0.25),          // 5: position 2.5/5 = 0.5 → bin 1; "0 then 1" seen; jump 2.5/5 → r 0.5 → 0.25
            (true, 0.98 + 0.02 * 0.375),   // 20: range [0, 20], width 10, bin 1; "1 then 1" new, (1, 1) new; jump 7.5/10 → 0.375
        ])
        XCTAssertTrue(detector.explanation.contains("1 of 1 lagged transitions new"), detector.explanation)
        XCTAssertTrue(detector.explanation.contains("never seen before"), detector.explanation)
    }

    func testTwoLagsScoreTheShareOfNewFacts() {
        var detector = ContextDetector(levels: 2, span: 2)
        let outputs = feed(&detector, [0, 10, 0, 10, 0, 0, 10, 0])
        assertOutputs(outputs, [
            normal0, normal0,              // fill the two-value context (bins 0, 1)
            (true, 0.98 + 0.01),           // 0: lag 2 "0→0" new, lag 1 "1→0" new, (0, 1, 0) new → novelty (2/2 + 1)/2 = 1
            (true, 0.98 + 0.01),           // 10: "1→1" and "0→1" new, (1, 0, 1) new → 1
            (false, 0.01),                 // 0: (0, 1, 0) again: all seen
            (true, 0.98),                  // 0: lag 2 "1→0" new, lag 1 "0→0" new, (1, 0, 0) new → 1; no jump
            (true, 0.98 * 0.75 + 0.01),    // 10: lag 2 "0→1" new, lag 1 "0→1" seen, (0, 0, 1) new → (1/2 + 1)/2 = 0.75
            (false, 0.01),                 // 0: "0→0", "1→0" and (0, 1, 0) seen
        ])
    }

    func testAFlatLineIsOneBinAndNeverScoresOne() {
        var detector = ContextDetector(levels: 8, span: 3)
        let outputs = feed(&detector, [5, 5, 5, 5, 5, 5])
        // Width 0: every value in bin 0. The first scored sample (the fourth) is new: lags
        // "0→0" at 1, 2, 3 and (0, 0, 0, 0) → novelty 1, no jump → 0.98; then all seen.
        assertOutputs(outputs, [normal0, normal0, normal0, (true, 0.98), (false, 0), (false, 0)])
        XCTAssertTrue(outputs.allSatisfy { $0.score < 1 })
    }

    func testMemoryIsFixedAtCreation() {
        var detector = ContextDetector()
        let before = detector.heapBytes
        // 8 KB of hashed sequences, 7·8·8 bits of lag facts, 7 recent bins, array headers.
        XCTAssertEqual(before, 96 + 8 * (7 + 1_024) + 7)
        for i in 0..<10_000 { _ = detector.observe(time: Double(i), value: Double((i * 7_919) % 1_000)) }
        XCTAssertEqual(detector.heapBytes, before)
    }
}
