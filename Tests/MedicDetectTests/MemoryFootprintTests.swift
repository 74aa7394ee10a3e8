import MedicDetect
import XCTest

/// The per-series sizes the detectors' documentation states (docs/detection.md).
final class MemoryFootprintTests: XCTestCase {
    func testInlineSizesAreTheDocumentedOnes() {
        XCTAssertEqual(MemoryLayout<ThresholdDetector>.size, 32)
        XCTAssertEqual(MemoryLayout<EWMADetector>.size, 56)
        XCTAssertEqual(MemoryLayout<MovingAverageDetector>.size, 72)
        XCTAssertEqual(MemoryLayout<IQRDetector>.size, 72)
        XCTAssertEqual(MemoryLayout<RateOfChangeDetector>.size, 112)
        XCTAssertEqual(MemoryLayout<SeasonalDetector>.size, 56)
        XCTAssertEqual(MemoryLayout<CompositeDetector>.size, 56)
        XCTAssertEqual(MemoryLayout<AutoEnsembleDetector>.stride, 656)
        XCTAssertEqual(MemoryLayout<SustainedDetector>.size, 80)
        XCTAssertEqual(MemoryLayout<SampleAdmission>.size, 8)
    }
}
