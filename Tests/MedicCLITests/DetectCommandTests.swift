import Foundation
import XCTest

/// `medic detect` through the built binary.
final class DetectCommandTests: XCTestCase {
    private func write(_ text: String, named name: String = "series.csv") throws -> String {
        let path = try Medic.temporaryDirectory(self).appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testScoresEachRowAndEchoesTimestampsAsGiven() throws {
        let csv = try write("""
            timestamp,value
            2015-01-01 00:00:00,80
            2015-01-01T00:05:00Z,90
            1420071000,170

            """)
        let run = try Medic.run(["detect", "--detector", "threshold", "--param", "op=>", "--param", "value=85", "--csv", csv])
        XCTAssertEqual(run.status, 0, run.stderr)
        // 80: below → 0; 90: 0.5 + 0.5·5/90; 170: 0.5 + 0.5·85/170 = 0.75
        XCTAssertEqual(run.stdout, """
            timestamp,value,anomaly_score
            2015-01-01 00:00:00,80,0.0
            2015-01-01T00:05:00Z,90,\(0.5 + 0.5 * 5 / 90)
            1420071000,170,0.75

            """)
        XCTAssertEqual(run.stderr, "")
    }

    func testParamsTakeTheLoadersDefaults() throws {
        // moving_average window=4 k=2 (defaults would be 100 and 3): the fifth row against
        // [10 12 10 12], mean 11, σ 1 → |15 − 11| = 4 = 2·k·σ → ratio 2, score 0.75
        let csv = try write("timestamp,value\n0,10\n60,12\n120,10\n180,12\n240,15\n")
        let run = try Medic.run(["detect", "--detector", "moving_average", "--param", "window=4", "--param", "k=2", "--csv", csv])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.split(separator: "\n").last, "240,15,0.75")
        // No params: ewma with alpha 0.2, threshold 3, warmup 30 — 5 rows are all training.
        let ewma = try Medic.run(["detect", "--detector", "ewma", "--csv", csv])
        XCTAssertEqual(ewma.status, 0, ewma.stderr)
        XCTAssertEqual(ewma.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: ",").last! }, ["0.0", "0.0", "0.0", "0.0", "0.0"])
    }

    func testRateOfChangeAndCompositeParams() throws {
        let csv = try write("timestamp,value\n0,100\n30,131\n")
        let rate = try Medic.run(["detect", "--detector", "rate_of_change", "--param", "change=30%", "--param", "within=1m",
                                  "--param", "direction=increase", "--csv", csv])
        XCTAssertEqual(rate.status, 0, rate.stderr)
        // +31% within 30 s against a 30% limit: r = 31/30, score 1 − 1/(2r)
        XCTAssertEqual(rate.stdout.split(separator: "\n").last, "30,131,\(1 - 1 / (2 * 31.0 / 30))")
        let composite = try Medic.run(["detect", "--detector", "composite", "--csv", csv, "--param",
                                       "components=[{detector: threshold, params: {op: \">\", value: 100}, weight: 3}, {detector: ewma}]"])
        XCTAssertEqual(composite.status, 0, composite.stderr)
        // threshold: 131 > 100, d 31 → 0.5 + 0.5·31/131, weight 3 of 4; ewma still warming up → 0
        XCTAssertEqual(composite.stdout.split(separator: "\n").last, "30,131,\(3 * (0.5 + 0.5 * 31 / 131) / 4)")
    }

    func testUnreadableRowsAreReportedWithFileAndLineAndTheOthersScored() throws {
        let csv = try write("""
            timestamp,value
            2015-01-01 00:00:00,1
            yesterday,2
            2015-01-01 00:10:00,lots
            2015-01-01 00:15:00,3,4
            2015-02-30 00:00:00,5
            2015-01-01 00:20:00,6

            """)
        let run = try Medic.run(["detect", "--detector", "threshold", "--param", "op=>", "--param", "value=5", "--csv", csv])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(run.stderr.split(separator: "\n").map(String.init), [
            "\(csv):3: 'yesterday' is not a timestamp (YYYY-MM-DD HH:MM:SS, RFC 3339 or epoch seconds)",
            "\(csv):4: 'lots' is not a number",
            "\(csv):5: expected 2 fields, timestamp,value; found 3",
            "\(csv):6: '2015-02-30 00:00:00' is not a timestamp (YYYY-MM-DD HH:MM:SS, RFC 3339 or epoch seconds)",
        ])
        XCTAssertEqual(run.stdout, "timestamp,value,anomaly_score\n2015-01-01 00:00:00,1,0.0\n2015-01-01 00:20:00,6,\(0.5 + 0.5 / 6)\n")
    }

    func testOutOfOrderDuplicateAndNaNRowsScoreZeroAndChangeNothing() throws {
        let csv = try write("timestamp,value\n100,10\n50,99\n100,99\n110,nan\n120,99\n")
        let run = try Medic.run(["detect", "--detector", "threshold", "--param", "op=>", "--param", "value=50", "--csv", csv])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: ",").last!) },
                       ["0.0", "0.0", "0.0", "0.0", "\(0.5 + 0.5 * 49 / 99)"])
    }

    func testUsageErrorsExitTwoAndSayWhatIsWrong() throws {
        let csv = try write("timestamp,value\n0,1\n")
        let cases: [([String], String)] = [
            (["--detector", "thresold"], "did you mean 'threshold'?"),
            (["--detector", "threshold"], "detector threshold needs 'params: {op, value}'"),
            (["--detector", "moving_average", "--param", "window=1"], "'window' must be at least 2, found 1"),
            (["--detector", "ewma", "--param", "speed=2"], "unknown key 'speed'"),
            (["--detector", "ewma", "--param", "alpha"], "The value 'alpha' is invalid for '--param <param>': expected KEY=VALUE"),
            (["--detector", "ewma", "--param", "alpha=0.1", "--param", "alpha=0.2"], "--param alpha is given twice"),
            (["--detector", "seasonal", "--param", "low=90", "--param", "high=10"], "must be below 'high'"),
            (["--detector", "composite", "--param", "components=[{detector: composite}]"], "a composite cannot contain a composite"),
        ]
        for (arguments, message) in cases {
            let run = try Medic.run(["detect"] + arguments + ["--csv", csv])
            XCTAssertEqual(run.status, 2, arguments.joined(separator: " "))
            XCTAssert(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stdout, "")
        }
    }

    func testAMissingFileOrADirectoryExitsOne() throws {
        let missing = try Medic.run(["detect", "--detector", "ewma", "--csv", "/nonexistent/series.csv"])
        XCTAssertEqual(missing.status, 1)
        XCTAssert(missing.stderr.contains("/nonexistent/series.csv: cannot open the file"), missing.stderr)
        let directory = try Medic.run(["detect", "--detector", "ewma", "--csv", Medic.temporaryDirectory(self).path])
        XCTAssertEqual(directory.status, 1)
        XCTAssert(directory.stderr.contains("is a directory"), directory.stderr)
    }

    func testHelpTeachesWithExamples() throws {
        let run = try Medic.run(["detect", "--help"])
        XCTAssertEqual(run.status, 0)
        for text in ["timestamp,value,anomaly_score", "moving_average  window=100 k=3", "Examples:",
                     "medic detect --detector threshold --param 'op=>' --param value=90", "Exit status"] {
            XCTAssert(run.stdout.contains(text), text)
        }
        // Every parameter of every detector is listed, the composite's refractory too.
        for parameter in ["op", "value", "window", "k", "alpha", "threshold", "warmup", "multiplier", "change", "within", "direction",
                          "low", "high", "min_samples", "components", "refractory"] {
            XCTAssertNotNil(run.stdout.range(of: "\\b\(parameter)\\b", options: .regularExpression), parameter)
        }
    }
}
