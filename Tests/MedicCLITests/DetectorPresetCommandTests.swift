import Foundation
import XCTest

/// Detector presets (`ewma-nab`, `composite-nab`) through the built binary: `detect --detector`
/// and rules replayed by `backtest` name them like detectors.
final class DetectorPresetCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try Medic.temporaryDirectory(self)
        // 400 rows five minutes apart: a daily wave, a step up at row 250 and spikes at 300 and 330
        // (a refractory period of 8 hours covers the second).
        var rows = "timestamp,value\n"
        for i in 0..<400 {
            var value = 50 + 10 * sin(Double(i) * 2 * .pi / 288)
            if i >= 250 { value += 15 }
            if i == 300 || i == 330 { value += 60 }
            rows += "\(1_420_070_400 + i * 300),\(value)\n"
        }
        try rows.write(to: directory.appendingPathComponent("series.csv"), atomically: true, encoding: .utf8)
    }

    func testDetectScoresAPresetAsTheConfigurationItStandsFor() throws {
        let preset = try Medic.run(["detect", "--detector", "composite-nab", "--csv", "series.csv"], in: directory)
        XCTAssertEqual(preset.status, 0, preset.stderr)
        // docs/detection.md, "NAB scores": the NAB-tuned composite spelled out.
        let spelled = try Medic.run(["detect", "--detector", "composite", "--csv", "series.csv",
                                     "--param", "components=[{detector: ewma, params: {alpha: 0.01, threshold: 3, warmup: 100}}]",
                                     "--param", "refractory=8h"], in: directory)
        XCTAssertEqual(spelled.status, 0, spelled.stderr)
        XCTAssertEqual(preset.stdout, spelled.stdout)
        let scores = preset.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        XCTAssertEqual(scores.count, 400)
        XCTAssertGreaterThan(scores[300], 0.5, "the spike is anomalous")

        let ewma = try Medic.run(["detect", "--detector", "ewma-nab", "--csv", "series.csv"], in: directory)
        let ewmaSpelled = try Medic.run(["detect", "--detector", "ewma", "--param", "alpha=0.01", "--param", "warmup=100",
                                         "--csv", "series.csv"], in: directory)
        XCTAssertEqual(ewma.status, 0, ewma.stderr)
        XCTAssertEqual(ewma.stdout, ewmaSpelled.stdout)
        XCTAssertNotEqual(ewma.stdout, preset.stdout, "the composite's refractory period damps the second spike")
    }

    func testDetectScoresAutoAsTheEnsembleItStandsFor() throws {
        let auto = try Medic.run(["detect", "--detector", "auto", "--csv", "series.csv"], in: directory)
        XCTAssertEqual(auto.status, 0, auto.stderr)
        // docs/detection.md, "Presets": auto spelled out (its components at their defaults).
        let spelled = try Medic.run(["detect", "--detector", "composite", "--csv", "series.csv",
                                     "--param", "components=[{detector: knn_conformal}, {detector: context}, "
                                        + "{detector: periodic, weight: 3}, {detector: range, gate: true}]",
                                     "--param", "threshold=0.73", "--param", "refractory=16h"], in: directory)
        XCTAssertEqual(spelled.status, 0, spelled.stderr)
        XCTAssertEqual(auto.stdout, spelled.stdout)
        let scores = auto.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").last.flatMap { Double($0) } }
        XCTAssertEqual(scores.count, 400)
        XCTAssertGreaterThan(scores.max() ?? 0, 0.73, "the step or a spike is anomalous to the ensemble")
    }

    func testDetectRefusesParamsForAPresetAndAMisspeltName() throws {
        let params = try Medic.run(["detect", "--detector", "composite-nab", "--param", "threshold=0.6", "--csv", "series.csv"], in: directory)
        XCTAssertEqual(params.status, 2, params.stderr)
        XCTAssertTrue(params.stderr.contains("detector composite-nab is a preset and takes no 'params'"), params.stderr)
        XCTAssertEqual(params.stdout, "")
        let typo = try Medic.run(["detect", "--detector", "composite-nb", "--csv", "series.csv"], in: directory)
        XCTAssertEqual(typo.status, 2, typo.stderr)
        XCTAssertTrue(typo.stderr.contains("did you mean 'composite-nab'?"), typo.stderr)
        XCTAssertTrue(typo.stderr.contains("ewma-nab, composite-nab"), typo.stderr)
    }

    func testDetectHelpListsThePresets() throws {
        let help = try Medic.run(["detect", "--help"])
        XCTAssertEqual(help.status, 0)
        XCTAssertTrue(help.stdout.contains("Presets:"), help.stdout)
        for line in ["ewma-nab        ewma alpha 0.01, threshold 3, warmup 100", "composite-nab   ewma-nab in a composite, threshold 0.5, refractory 8h"] {
            XCTAssertTrue(help.stdout.contains(line), "\(line) in:\n\(help.stdout)")
        }
    }

    func testWatchActsOnARuleNamingAPreset() throws {
        let rules = directory.appendingPathComponent("rules")
        try FileManager.default.createDirectory(at: rules, withIntermediateDirectories: true)
        try """
            rules:
              - name: series-unusual
                metric: series
                detector: composite-nab
                severity: SEV3
            """.write(to: rules.appendingPathComponent("r.yaml"), atomically: true, encoding: .utf8)
        let csv = try String(contentsOf: directory.appendingPathComponent("series.csv"), encoding: .utf8)
        let feed = csv.split(separator: "\n").dropFirst().map { row -> String in
            let fields = row.split(separator: ",")
            return #"{"ts": \#(fields[0]), "metric": "series", "value": \#(fields[1])}"#
        }.joined(separator: "\n") + "\n"
        try feed.write(to: directory.appendingPathComponent("feed.jsonl"), atomically: true, encoding: .utf8)
        let watch = try Medic.run(["watch", "--input", "feed.jsonl", "--dry-run", "--json", "--root", directory.path,
                                   "--state-dir", directory.appendingPathComponent("state").path], in: directory)
        XCTAssertEqual(watch.status, 0, watch.stdout + watch.stderr)
        let events = try watch.stdout.split(separator: "\n").map { try Medic.json(String($0)) }
        let incidents = events.filter { $0["event"] as? String == "incident" }
        XCTAssertEqual(incidents.first?["rule"] as? String, "series-unusual", watch.stdout)
        XCTAssertEqual(incidents.first?["fired_at"] as? Int, 1_420_160_400, "row 300, the first spike: \(watch.stdout)")
    }

    func testBacktestReplaysARuleNamingAPreset() throws {
        try """
            rules:
              - name: series-unusual
                metric: series
                detector: composite-nab
                severity: SEV3
            """.write(to: directory.appendingPathComponent("rules.yaml"), atomically: true, encoding: .utf8)
        let run = try Medic.run(["backtest", "rules.yaml", "series.csv", "--metric", "series", "--json"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let document = try Medic.json(run.stdout)
        let fired = (document["incidents"] as? [[String: Any]])?.compactMap { $0["fired"] as? String } ?? []
        XCTAssertTrue(fired.contains("2015-01-02T01:00:00Z"), "row 300 fires: \(fired)")
        XCTAssertEqual((document["rules"] as? [[String: Any]])?.first?["samples"] as? Int, 400)
    }
}
