import MedicDetect
import XCTest

final class DetectorOutputTests: XCTestCase {
    func testScoresAreClampedToTheUnitIntervalAndNaNIsNormal() {
        XCTAssertEqual(DetectorOutput(anomalous: true, score: 3).score, 1)
        XCTAssertEqual(DetectorOutput(anomalous: false, score: -0.5).score, 0)
        XCTAssertEqual(DetectorOutput(anomalous: false, score: .nan).score, 0)
        XCTAssertEqual(DetectorOutput(anomalous: true, score: 0.25).score, 0.25)
    }
}
