import MedicDetect
import MedicModel
import XCTest

final class RateOfChangeDetectorTests: XCTestCase {
    func testIncreaseAgainstTheMinimumWithinTheSpan() {
        var d = RateOfChangeDetector(change: 30, within: 60, direction: .increase)
        let outputs = feed(&d, samples: [(0, 100), (20, 110), (40, 125), (50, 131), (70, 131), (80, 140), (81, 140)])
        // t 0: nothing before → 0
        // t 20: min 100, +10% → r = 10/30, score r/2 = .16667
        // t 40: min 100, +25% → score 25/30/2 = .41667
        // t 50: min 100, +31% > 30% → r = 31/30, score 1 − 1/(2r) = .51613
        // t 70: span [10, 70): min 110 (t 20), +19.09% → score 19.0909/30/2 = .31818
        // t 80: span [20, 80): t 20 is still in (the span is inclusive at its start), min 110, +27.27% → .45455
        // t 81: span [21, 81): min 125 (t 40), +12% → score 12/30/2 = .2
        let p70 = 21.0 / 110 * 100, p80 = 30.0 / 110 * 100
        assertOutputs(outputs, [normal0, (false, 10.0 / 60), (false, 25.0 / 60), (true, 1 - 1 / (2 * 31.0 / 30)),
                                (false, p70 / 60), (false, p80 / 60), (false, 0.2)])
    }

    func testAfterAGapOnlySamplesWithinTheSpanCount() {
        var d = RateOfChangeDetector(change: 30, within: 60, direction: .increase)
        // The gap empties the span: t 1000 has nothing to compare with; t 1010 is +50% over 200 → r 5/3, score .7
        assertOutputs(feed(&d, samples: [(0, 10), (1000, 200), (1010, 300)]), [normal0, normal0, (true, 0.7)])
    }

    func testDecreaseAgainstTheMaximum() {
        var d = RateOfChangeDetector(change: .init(50), within: Interval(seconds: 300), direction: .decrease)
        // t 60: max 100, −20% → score 20/50/2 = .2; t 120: max 100, −51% → r 1.02, score 1 − 1/2.04 = .50980
        // a rise is not watched: t 130 → 0
        assertOutputs(feed(&d, samples: [(0, 100), (60, 80), (120, 49), (130, 500)]),
                      [normal0, (false, 0.2), (true, 1 - 1 / 2.04), normal0])
    }

    func testBothDirectionsTakeTheLargerChange() {
        var d = RateOfChangeDetector(change: 10, within: 10, direction: .both)
        // t 5: max 10 → −20% → r 2, score .75; t 6: min 8 → +25%, max 10 → −0%: r 2.5, score .8
        assertOutputs(feed(&d, samples: [(0, 10), (5, 8), (6, 10)]), [normal0, (true, 0.75), (true, 0.8)])
    }

    func testAZeroBaseMakesAnyIncreaseInfinite() {
        var d = RateOfChangeDetector(change: 30, within: 60, direction: .increase)
        // +5 over 0 is an infinite percentage: anomalous, scored on the difference: 0.5 + 0.5·5/(5 + 1)
        assertOutputs(feed(&d, samples: [(0, 0), (1, 0), (2, 5)]), [normal0, normal0, (true, 0.5 + 0.5 * 5 / 6)])
    }

    func testTheDequeIsCappedAndDropsItsOldestCandidates() {
        var d = RateOfChangeDetector(change: 30, within: 1000, direction: .increase, maxSamples: 4)
        // A strictly rising run keeps every sample as a candidate minimum; with 4 kept, 1 and 2
        // are dropped, so 7 compares with 3: +133.3% → r 4.4444, score 1 − 1/8.8889 = .8875
        let outputs = feed(&d, [1, 2, 3, 4, 5, 6, 7], step: 1)
        XCTAssertEqual(outputs.last!.score, 1 - 1 / (2 * (400.0 / 3 / 30)), accuracy: 1e-9)
    }

    func testZeroSpanNeverFires() {
        var d = RateOfChangeDetector(change: 0, within: 0, direction: .both)
        XCTAssertFalse(feed(&d, [1, 100, 1]).contains { $0.anomalous })
    }
}
