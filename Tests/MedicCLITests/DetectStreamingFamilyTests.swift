import Foundation
import XCTest

/// `medic detect` with the context, relative-entropy and nearest-neighbour conformal detectors:
/// their parameters reach the detector through the loader, out-of-range ones are refused.
final class DetectStreamingFamilyTests: XCTestCase {
    private func write(_ values: [Double]) throws -> String {
        let path = try Medic.temporaryDirectory(self).appendingPathComponent("series.csv").path
        let rows = values.enumerated().map { "\($0.offset * 60),\(Int($0.element))" }
        try (["timestamp,value"] + rows + [""]).joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    private func scores(_ stdout: String) -> [String] {
        stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",").last!) }
    }

    func testKNNConformalParams() throws {
        let csv = try write([0, 1, 2, 3, 4, 10, 5, 7])
        let run = try Medic.run(["detect", "--detector", "knn_conformal", "--param", "dimension=1", "--param", "training=2",
                                 "--param", "calibration=3", "--param", "k=1", "--csv", csv])
        XCTAssertEqual(run.status, 0, run.stderr)
        // As KNNConformalDetectorTests: 10 is 6 from its nearest, above the calibration set {1, 1, 1}.
        XCTAssertEqual(scores(run.stdout), ["0.0", "0.0", "0.0", "0.0", "0.0", "\(1 - (1.0 / 6) / 4)", "0.0", "0.5"])
    }

    func testContextAndRelativeEntropyParams() throws {
        let csv = try write([0, 10, 0, 10, 0, 5, 20])
        let context = try Medic.run(["detect", "--detector", "context", "--param", "levels=2", "--param", "span=1", "--csv", csv])
        XCTAssertEqual(context.status, 0, context.stderr)
        XCTAssertEqual(scores(context.stdout).last, "\(0.98 + 0.02 * 0.375)")
        let entropy = try Medic.run(["detect", "--detector", "relative_entropy", "--param", "window=4", "--param", "bins=2",
                                     "--param", "models=1", "--csv", try write([0, 0, 1, 1, 0, 0, 0, 0])])
        XCTAssertEqual(entropy.status, 0, entropy.stderr)
        // [0 0 0 0] against the model (0.5, 0.5): 2·4·ln 2 over the chi-square limit, halved.
        let last = try XCTUnwrap(Double(scores(entropy.stdout).last ?? ""))
        XCTAssertEqual(last, 5.545177444479562 / 6.585773096926759 / 2, accuracy: 1e-9)
    }

    func testOutOfRangeParamsAreRefused() throws {
        let csv = try write([1, 2, 3])
        for (detector, param) in [("context", "levels=40"), ("relative_entropy", "bins=1"), ("knn_conformal", "training=0"),
                                  ("knn_conformal", "neighbours=3"), ("knn_conformal", "k=60"), ("knn_conformal", "calibration=2")] {
            let run = try Medic.run(["detect", "--detector", detector, "--param", param, "--csv", csv])
            XCTAssertEqual(run.status, 2, "\(detector) \(param): \(run.stderr)")
            XCTAssertEqual(run.stdout, "")
            XCTAssertTrue(run.stderr.contains(String(param.prefix { $0 != "=" })), run.stderr)
        }
    }

    func testHelpListsTheParameters() throws {
        let run = try Medic.run(["detect", "--help"])
        XCTAssertEqual(run.status, 0)
        for text in ["context", "levels=8", "span=7", "relative_entropy", "bins=10", "models=8", "confidence=0.99",
                     "knn_conformal", "dimension=10", "training=50", "calibration=100"] {
            XCTAssertTrue(run.stdout.contains(text), text)
        }
    }
}
