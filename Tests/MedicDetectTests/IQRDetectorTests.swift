@testable import MedicDetect
import XCTest

final class IQRDetectorTests: XCTestCase {
    func testFencesOfTheWindowBeforeEachSample() {
        var d = IQRDetector(window: 4, multiplier: 1.5)
        // Quartiles with linear interpolation: h = (n − 1)·p, v[⌊h⌋] + frac(h)·(v[⌊h⌋+1] − v[⌊h⌋]).
        // 1-4 fill the window.
        // 5: [1 2 3 4]: Q1 = 1 + .75·1 = 1.75, Q3 = 3 + .25·1 = 3.25, IQR 1.5, m·IQR 2.25;
        //    5.5 is 2.25 past Q3: at the fence, normal, score .5
        // 6: [2 3 4 5.5]: Q1 = 2.75, Q3 = 4 + .25·1.5 = 4.375, m·IQR = 1.5·1.625 = 2.4375;
        //    10 is 5.625 past Q3 → r = 2.30769, score 1 − 1/(2r) = .78333
        // 7: [3 4 5.5 10]: Q1 = 3.75, Q3 = 5.5 + .25·4.5 = 6.625, m·IQR = 1.5·2.875 = 4.3125;
        //    −1 is 4.75 below Q1 → r = 1.10145, score .54605
        // 8: [4 5.5 10 −1] sorted [−1 4 5.5 10]: Q1 = −1 + .75·5 = 2.75, Q3 = 5.5 + .25·4.5 = 6.625;
        //    5 is inside [Q1, Q3] → score 0
        let r6 = 5.625 / 2.4375, r7 = 4.75 / 4.3125
        assertOutputs(feed(&d, [1, 2, 3, 4, 5.5, 10, -1, 5]),
                      [normal0, normal0, normal0, normal0, (false, 0.5), (true, 1 - 1 / (2 * r6)), (true, 1 - 1 / (2 * r7)), normal0])
    }

    func testFlatWindowIsNormalUntilTheValueLeavesIt() {
        var d = IQRDetector(window: 4, multiplier: 1.5)
        // IQR = 0: 3.5 is 0.5 past Q3 = 3 → anomalous, 0.5 + 0.5·0.5/(0.5 + 3) = .57143
        assertOutputs(feed(&d, [3, 3, 3, 3, 3, 3.5]), [normal0, normal0, normal0, normal0, normal0, (true, 0.5 + 0.5 * 0.5 / 3.5)])
    }

    func testOrderedWindowMatchesASortedCopyThroughSplitsAndMerges() {
        // Capacity 5,000: blocks of 70 that split above 140 and merge below 17. A rising run, a
        // falling run and scrambled values move the window through every case.
        var window = OrderedWindow(capacity: 5_000)
        var reference: [Double] = []
        var values: [Double] = (0..<6_000).map(Double.init)
        values += (0..<6_000).map { 10_000 - Double($0) }
        values += (0..<6_000).map { Double(($0 * 7_919) % 1_000) }  // many duplicates
        for (index, value) in values.enumerated() {
            window.append(value)
            reference.append(value)
            if reference.count > 5_000 { reference.removeFirst() }
            if index % 97 == 96 || index == values.count - 1 {
                let sorted = reference.sorted()
                XCTAssertEqual(window.count, sorted.count)
                for rank in [0, 1, sorted.count / 4, sorted.count / 2, sorted.count - 1] {
                    XCTAssertEqual(window.value(atRank: rank), sorted[rank], "rank \(rank) after \(index + 1) values")
                }
                let h = Double(sorted.count - 1) * 0.25, lower = Int(h)
                XCTAssertEqual(window.quantile(0.25), sorted[lower] + (h - Double(lower)) * (sorted[lower + 1] - sorted[lower]))
            }
        }
    }
}
