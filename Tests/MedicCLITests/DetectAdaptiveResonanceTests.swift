import Foundation
import XCTest

/// `medic detect --detector adaptive_resonance`: its parameters reach the detector through the
/// loader, out-of-range ones are refused, the help lists them.
final class DetectAdaptiveResonanceTests: XCTestCase {
    private func write(_ values: [Double]) throws -> String {
        let path = try Medic.temporaryDirectory(self).appendingPathComponent("series.csv").path
        let rows = values.enumerated().map { "\($0.offset * 60),\(Int($0.element))" }
        try (["timestamp,value"] + rows + [""]).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testParamsReachTheDetector() throws {
        let csv = try write([0, 0, 0, 10, 10])
        let run = try Medic.run(["detect", "--detector", "adaptive_resonance", "--param", "step=1", "--param", "window=2",
                                 "--param", "levels=2", "--param", "learning=3", "--param", "capacity=2", "--csv", csv])
        XCTAssertEqual(run.status, 0, run.stderr)
        // As AdaptiveResonanceDetectorTests: (0, 10) after (0, 0) matches 0.5 against a vigilance
        // of 0.97; then (10, 10) matches 0.5, no lower than the floor.
        let scores = run.stdout.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",").last!) ?? -1 }
        XCTAssertEqual(scores.count, 5, run.stdout)
        for (got, want) in zip(scores, [0, 0, 0, 0.97, 0.49]) { XCTAssertEqual(got, want, accuracy: 1e-9, run.stdout) }
    }

    func testOutOfRangeParamsAreRefused() throws {
        let csv = try write([1, 2, 3])
        for param in ["step=0", "window=1", "levels=2000", "capacity=300", "learning=10", "threshold=2", "vigilance=0.9"] {
            let run = try Medic.run(["detect", "--detector", "adaptive_resonance", "--param", param, "--csv", csv])
            XCTAssertEqual(run.status, 2, "\(param): \(run.stderr)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains(String(param.prefix { $0 != "=" })), run.stderr)
        }
    }

    func testHelpListsTheParameters() throws {
        let run = try Medic.run(["detect", "--help"])
        XCTAssertEqual(run.status, 0)
        for text in ["adaptive_resonance", "step=5", "learning=400", "capacity=64"] {
            XCTAssertTrue(run.stdout.contains(text), text)
        }
    }
}
