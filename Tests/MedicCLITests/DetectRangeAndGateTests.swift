import Foundation
import XCTest

/// `medic detect` with the `range` detector and a composite with a gate: the parameters reach the
/// detectors through the loader, out-of-range ones are refused, the help lists them.
final class DetectRangeAndGateTests: XCTestCase {
    private func write(_ values: [Double]) throws -> String {
        let path = try Medic.temporaryDirectory(self).appendingPathComponent("series.csv").path
        let rows = values.enumerated().map { "\($0.offset * 60),\(Int($0.element))" }
        try (["timestamp,value"] + rows + [""]).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func scores(_ stdout: String) -> [Double] {
        stdout.split(separator: "\n").dropFirst().map { Double($0.split(separator: ",").last!) ?? -1 }
    }

    func testRangeParams() throws {
        let run = try Medic.run(["detect", "--detector", "range", "--param", "warmup=2", "--csv", try write([5, 7, 8, 6, 11, 3, 13])])
        XCTAssertEqual(run.status, 0, run.stderr)
        // As RangeDetectorTests: 8 over [5, 7], 11 over [5, 8], 3 under [5, 11], 13 over [3, 11].
        let want = [0, 0, 0.5 + 0.5 * (0.5 / 1.5), 0, 0.75, 0.625, 0.6]
        XCTAssertEqual(scores(run.stdout).count, want.count, run.stdout)
        for (got, expected) in zip(scores(run.stdout), want) { XCTAssertEqual(got, expected, accuracy: 1e-9, run.stdout) }
    }

    func testACompositeGateFiresAlone() throws {
        let csv = try write([5, 7, 8, 6, 11])
        let run = try Medic.run(["detect", "--detector", "composite", "--csv", csv, "--param", "threshold=0.8", "--param",
                                 "components=[{detector: range, params: {warmup: 2}}, {detector: range, params: {warmup: 1000}}, "
                                    + "{detector: range, params: {warmup: 2}, gate: true}]"])
        XCTAssertEqual(run.status, 0, run.stderr)
        // As CompositeGateTests: the gate's 2/3 and 0.75 land at 0.8667 and 0.9, above the means 1/3 and 0.375.
        let want = [0, 0, 0.8 + 0.2 * (2.0 / 3 - 0.5) / 0.5, 0, 0.9]
        for (got, expected) in zip(scores(run.stdout), want) { XCTAssertEqual(got, expected, accuracy: 1e-9, run.stdout) }
    }

    func testOutOfRangeParamsAreRefused() throws {
        let csv = try write([1, 2, 3])
        for param in ["tolerance=11", "warmup=0", "window=3"] {
            let run = try Medic.run(["detect", "--detector", "range", "--param", param, "--csv", csv])
            XCTAssertEqual(run.status, 2, "\(param): \(run.stderr)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains(String(param.prefix { $0 != "=" })), run.stderr)
        }
        let gate = try Medic.run(["detect", "--detector", "composite", "--csv", csv, "--param",
                                  "components=[{detector: range, gate: maybe}]"])
        XCTAssertEqual(gate.status, 2, gate.stderr)
        XCTAssertTrue(gate.stderr.contains("gate"), gate.stderr)
    }

    func testHelpListsTheParameters() throws {
        let run = try Medic.run(["detect", "--help"])
        XCTAssertEqual(run.status, 0)
        for text in ["range", "tolerance=0", "warmup=100", "gate: true"] {
            XCTAssertTrue(run.stdout.contains(text), text)
        }
    }
}
