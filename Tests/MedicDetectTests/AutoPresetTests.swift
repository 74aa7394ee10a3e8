import MedicDetect
import MedicModel
import XCTest

/// The `auto` ensemble as a value rules and the CLI can name.
final class AutoPresetTests: XCTestCase {
    func testAutoIsAnEnsembleOfTheChosenDetectors() throws {
        guard case .composite(let components, let threshold, let refractory) = AutoPreset.auto else {
            return XCTFail("auto is \(AutoPreset.auto.kind)")
        }
        XCTAssertEqual(components.map(\.detector.kind), [.knnConformal, .context, .periodic, .range])
        XCTAssertEqual(components.map(\.gate), [false, false, false, true])
        XCTAssertGreaterThan(threshold, 0.5)
        XCTAssertNotNil(refractory)
        let detector = try XCTUnwrap(Detectors.make(AutoPreset.auto) as? AutoEnsembleDetector)
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
        XCTAssertLessThanOrEqual(AutoPreset.heapBytes + MemoryLayout<AutoEnsembleDetector>.size, 64 * 1024)
    }

    /// A day of a daily wave shifted down by 8 (within the range seen, ±10 around 50) from its
    /// start: anomalous, and the highest score of the series.
    func testAutoFiresWhenADayDropsWithinTheRangeSeen() {
        var detector = Detectors.make(AutoPreset.auto)
        var outputs: [DetectorOutput] = []
        for i in 0..<(12 * 288) {
            let drop = (9 * 288..<10 * 288).contains(i) ? -8.0 : 0
            let wave = 10 * sin(Double(i) * 2 * Double.pi / 288)
            outputs.append(detector.observe(time: 1_400_000_000 + Double(i) * 300, value: 50 + wave + drop + Double((i * 7_919) % 13) / 13))
        }
        let day = outputs[(9 * 288)..<(10 * 288)]
        XCTAssertTrue(day.contains { $0.anomalous }, "highest score \(day.map(\.score).max() ?? 0)")
        XCTAssertEqual(day.map(\.score).max(), outputs.map(\.score).max())
    }
}
