import MedicDetect
import MedicModel
import XCTest

/// The `auto` ensemble as a value rules and the CLI can name.
final class AutoPresetTests: XCTestCase {
    func testAutoIsACompositeOfTheChosenDetectors() throws {
        guard case .composite(let components, let threshold, let refractory) = AutoPreset.auto else {
            return XCTFail("auto is \(AutoPreset.auto.kind)")
        }
        XCTAssertEqual(components.map(\.detector.kind), [.ewma, .knnConformal, .context, .range])
        XCTAssertEqual(components.map(\.gate), [false, false, false, true])
        XCTAssertGreaterThan(threshold, 0.5)
        XCTAssertNotNil(refractory)
        let detector = try XCTUnwrap(Detectors.make(AutoPreset.auto) as? CompositeDetector)
        XCTAssertEqual(detector.weights, components.map(\.weight))
    }

    func testAutoFiresOnASpikeInANoisyWaveAndStaysWithinItsMemoryBound() {
        var detector = Detectors.make(AutoPreset.auto)
        var outputs: [DetectorOutput] = []
        for i in 0..<3_000 {
            let wave = 10 * sin(Double(i) * Double.pi / 144) + Double((i * 7_919) % 13) / 13
            outputs.append(detector.observe(time: Double(i) * 300, value: 50 + wave + (i == 2_500 ? 60 : 0)))
        }
        XCTAssertTrue(outputs[2_500].anomalous, "score \(outputs[2_500].score)")
        XCTAssertEqual(outputs[2_500].score, outputs.map(\.score).max())
        XCTAssertTrue(outputs.allSatisfy { $0.score < 1 })
        XCTAssertLessThanOrEqual(AutoPreset.heapBytes + MemoryLayout<CompositeDetector>.size, 64 * 1024)
    }
}
