import Foundation
import XCTest

/// `medic backtest --labels` through the built binary: a rule scored against labelled anomaly
/// windows in NAB's format, on a history small enough to score by hand.
final class BacktestLabelsTests: XCTestCase {
    private var directory: URL!

    /// 2024-05-01T00:00:00Z; row i is i minutes later.
    private let t0 = 1_714_521_600

    /// 100 rows of `cpu` a minute apart, 50 except 90 at rows 5, 30-32, 40, 60 and 86. A rule
    /// `cpu > 80` (no `for`, resolving after 5 normal minutes) fires at rows 5, 30, 40, 60 and 86:
    /// each run of 90s is a new incident, the one before having resolved.
    private let spikes: Set = [5, 30, 31, 32, 40, 60, 86]

    /// Windows A (rows 28-35, detected at 30), B (70-75, missed) and C (85-90, detected at 86).
    /// Row 5 is in NAB's probation (the first 15 of 100 rows); rows 40 and 60 are false positives.
    private let windows = #"[["2024-05-01 00:28:00", "2024-05-01 00:35:00"], ["2024-05-01 01:10:00", "2024-05-01 01:15:00"], ["2024-05-01 01:25:00.000000", "2024-05-01 01:30:00.000000"]]"#

    override func setUpWithError() throws {
        directory = try Medic.temporaryDirectory(self)
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("data"), withIntermediateDirectories: true)
        try write("rules.yaml", """
            rules:
              - name: cpu-high
                metric: cpu
                detector: threshold
                params: {op: ">", value: 80}
                severity: SEV3
            """)
        let rows = (0..<100).map { "\(t0 + $0 * 60),\(spikes.contains($0) ? 90 : 50)\n" }
        try write("data/cpu.csv", "timestamp,value\n" + rows.joined())
    }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    private func backtest(_ extra: [String]) throws -> MedicRun {
        try Medic.run(["backtest", "rules.yaml", "data/cpu.csv", "--metric", "cpu"] + extra, in: directory)
    }

    /// NAB's scaled sigmoid, written out here from Lavin and Ahmad (2015) rather than taken from
    /// the scorer.
    private func sigmoid(_ x: Double) -> Double { x > 3 ? -1 : 2 / (1 + exp(5 * x)) - 1 }

    /// The NAB score of the firings above under a profile's weights, by hand: A detected at
    /// position −6/8, C at −5/6, B missed; the false positive at row 40 is 5/7 of A's length
    /// after it, the one at row 60 more than 3 (full cost).
    private func expectedScore(tp: Double, fp: Double, fn: Double) -> Double {
        let credit = (sigmoid(-6.0 / 8) + sigmoid(-5.0 / 6)) / sigmoid(-1)
        let raw = tp * credit - fn + fp * (sigmoid(5.0 / 7) + -1)
        return 100 * (raw + 3 * fn) / (3 * tp + 3 * fn)
    }

    // MARK: Tests

    func testPrintsPrecisionRecallTheNABScoreEachMissAndFalsePositiveAndWhatToChange() throws {
        // The key names the data file by the end of its path, as NAB's labels do.
        try write("labels.json", #"{"data/cpu.csv": \#(windows), "other/series.csv": []}"#)
        let run = try backtest(["--labels", "labels.json"])
        XCTAssertEqual(run.status, 1, "a window missed and false positives are findings: \(run.stderr)")
        let score = String(format: "%.2f", expectedScore(tp: 1, fp: 0.11, fn: 1))
        XCTAssertEqual(score, "62.26")
        let labelled = try XCTUnwrap(run.stdout.components(separatedBy: "\nLabelled windows").last)
        XCTAssertEqual(labelled, """
             from labels.json, NAB profile standard (the first 15% of each series' samples, at most 750, are NAB's probation: not scored):

              cpu-high: precision 0.50 (2 of 4 firings in a window), recall 0.67 (2 of 3 windows detected), NAB score \(score)
                series cpu
                detected        2024-05-01T00:28:00Z to 2024-05-01T00:35:00Z  fired 2024-05-01T00:30:00Z (29% into it)
                detected        2024-05-01T01:25:00Z to 2024-05-01T01:30:00Z  fired 2024-05-01T01:26:00Z (20% into it)
                missed          2024-05-01T01:10:00Z to 2024-05-01T01:15:00Z
                false positive  2024-05-01T00:40:00Z  value 90 (score 0.56)
                false positive  2024-05-01T01:00:00Z  value 90 (score 0.56)
                (1 firing in the probation period, not scored)
                → 1 of the 2 false positives come within a window's length after a window: the same anomaly firing again; a longer cooldown (now none) or a composite's refractory keeps one anomaly to one alert
                → 1 firing far from any window: make the rule less sensitive: move `value` (now 80) further from normal values (the rule fires when value > it), or require a longer `for` (now 0) so that short excursions do not fire
                → 1 window missed: make the rule more sensitive: move `value` (now 80) closer to normal values (the rule fires when value > it); each change costs false positives elsewhere, which the NAB score weighs
              Label keys that name no series of the data: "other/series.csv".

            """)
    }

    func testJSONHasTheSameFindingsInAStableShape() throws {
        // The key names the metric this time.
        try write("labels.json", #"{"cpu": \#(windows)}"#)
        let run = try backtest(["--labels", "labels.json", "--json"])
        XCTAssertEqual(run.status, 1, run.stderr)
        let document = try Medic.json(run.stdout)
        XCTAssertEqual((document["incidents"] as? [Any])?.count, 5, "the backtest's own report is unchanged")
        let labels = try XCTUnwrap(document["labels"] as? [String: Any])
        XCTAssertEqual(labels["file"] as? String, "labels.json")
        XCTAssertEqual(labels["profile"] as? String, "standard")
        XCTAssertEqual(labels["unmatched_keys"] as? [String], [])
        XCTAssertEqual(labels["unscored_rules"] as? [String], [])
        let rule = try XCTUnwrap((labels["rules"] as? [[String: Any]])?.first)
        XCTAssertEqual(rule["rule"] as? String, "cpu-high")
        XCTAssertEqual(rule["series"] as? [String], ["cpu"])
        XCTAssertEqual(rule["windows"] as? Int, 3)
        XCTAssertEqual(rule["windows_detected"] as? Int, 2)
        XCTAssertEqual(rule["windows_missed"] as? Int, 1)
        XCTAssertEqual(rule["firings_in_windows"] as? Int, 2)
        XCTAssertEqual(rule["false_positives"] as? Int, 2)
        XCTAssertEqual(rule["firings_in_probation"] as? Int, 1)
        XCTAssertEqual(rule["precision"] as? Double, 0.5)
        XCTAssertEqual(try XCTUnwrap(rule["recall"] as? Double), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(rule["nab_score"] as? Double), expectedScore(tp: 1, fp: 0.11, fn: 1), accuracy: 1e-9)
        let missed = try XCTUnwrap(rule["missed"] as? [[String: String]])
        XCTAssertEqual(missed, [["series": "cpu", "key": "cpu", "start": "2024-05-01T01:10:00Z", "end": "2024-05-01T01:15:00Z"]])
        let detected = try XCTUnwrap(rule["detected"] as? [[String: String]])
        XCTAssertEqual(detected.map { $0["fired"] }, ["2024-05-01T00:30:00Z", "2024-05-01T01:26:00Z"])
        let falsePositives = try XCTUnwrap(rule["false_positive_firings"] as? [[String: Any]])
        XCTAssertEqual(falsePositives.map { $0["time"] as? String }, ["2024-05-01T00:40:00Z", "2024-05-01T01:00:00Z"])
        XCTAssertEqual(falsePositives.map { $0["value"] as? Double }, [90, 90])
        XCTAssertEqual((rule["advice"] as? [String])?.count, 3)
        XCTAssertEqual(labels["windows_outside_data"] as? [[String: String]], [])
    }

    func testTheJSONMatchesItsOutputSchema() throws {
        let checker = try OutputSchemaChecker(schema: Medic.repositoryRoot.appendingPathComponent("schemas/output/backtest.schema.json"))
        try write("labels.json", #"{"cpu": \#(windows)}"#)
        for extra in [[], ["--labels", "labels.json"]] {
            let run = try backtest(["--json"] + extra)
            let document = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8))
            XCTAssertEqual(checker.problems(document), [], "backtest --json \(extra)")
        }
        // The schema is strict where it says so: a labels member without its rules is refused.
        XCTAssertFalse(checker.problems(["incidents": [], "rules": [], "rejected": [],
                                         "data": ["source": "x", "lines": 0, "samples": 0, "skipped": 0, "errors": []],
                                         "labels": ["file": "x"]]).isEmpty)
    }

    func testTheProfileWeighsFalsePositivesOrMisses() throws {
        try write("labels.json", #"{"cpu": \#(windows)}"#)
        for (profile, weights) in [("low-fp", (1.0, 0.22, 1.0)), ("reward_low_FN_rate", (1.0, 0.11, 2.0))] {
            let run = try backtest(["--labels", "labels.json", "--json", "--profile", profile])
            XCTAssertEqual(run.status, 1, run.stderr)
            let labels = try XCTUnwrap(try Medic.json(run.stdout)["labels"] as? [String: Any])
            let rule = try XCTUnwrap((labels["rules"] as? [[String: Any]])?.first)
            XCTAssertEqual(try XCTUnwrap(rule["nab_score"] as? Double), expectedScore(tp: weights.0, fp: weights.1, fn: weights.2),
                           accuracy: 1e-9, profile)
        }
        let standard = expectedScore(tp: 1, fp: 0.11, fn: 1), lowFP = expectedScore(tp: 1, fp: 0.22, fn: 1)
        XCTAssertLessThan(lowFP, standard, "false positives cost more under low-fp")
    }

    func testEveryWindowFoundWithoutAFalsePositiveExitsZero() throws {
        // Windows around every firing after the probation period.
        try write("labels.json", #"""
            {"cpu": [["2024-05-01 00:28:00", "2024-05-01 00:35:00"], ["2024-05-01 00:39:00", "2024-05-01 00:41:00"],
                     ["2024-05-01 00:59:00", "2024-05-01 01:01:00"], ["2024-05-01 01:25:00", "2024-05-01 01:30:00"]]}
            """#)
        let run = try backtest(["--labels", "labels.json"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("cpu-high: precision 1.00 (4 of 4 firings in a window), recall 1.00 (4 of 4 windows detected)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("→ every window detected, no false positive: nothing to change"), run.stdout)
    }

    func testALabelsFileThatCannotBeUsedIsAUsageErrorNamingTheFileAndTheFault() throws {
        let cases: [(String, String)] = [
            ("not json", "labels.json: not JSON"),
            (#"[["2024-05-01 00:28:00", "2024-05-01 00:35:00"]]"#, "labels.json: expected an object of series"),
            (#"{"cpu": ["2024-05-01 00:28:00", "2024-05-01 00:35:00"]}"#, #"labels.json: "cpu": window 1 is not two timestamps"#),
            (#"{"cpu": [["yesterday", "2024-05-01 00:35:00"]]}"#, #"labels.json: "cpu": window 1: 'yesterday' is not a timestamp"#),
            (#"{"cpu": [["2024-05-01 00:35:00", "2024-05-01 00:28:00"]]}"#,
             #"labels.json: "cpu": window 1 ends (2024-05-01 00:28:00) before it starts (2024-05-01 00:35:00)"#),
            (#"{"cpu": [["2024-05-01 00:28:00", "2024-05-01 00:35:00"], ["2024-05-01 00:30:00", "2024-05-01 00:40:00"]]}"#,
             #"labels.json: "cpu": the windows from 2024-05-01T00:28:00Z and from 2024-05-01T00:30:00Z overlap"#),
            ("{}", "labels.json: names no series"),
        ]
        for (text, message) in cases {
            try write("labels.json", text)
            let run = try backtest(["--labels", "labels.json"])
            XCTAssertEqual(run.status, 2, "\(text): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains(message), "\(text): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("nothing was replayed"), run.stderr)
            XCTAssertEqual(run.stdout, "", "\(text): nothing is replayed")
        }
        let missing = try backtest(["--labels", "absent.json"])
        XCTAssertEqual(missing.status, 2, missing.stderr)
        XCTAssertTrue(missing.stderr.contains("absent.json: cannot be read"), missing.stderr)
    }

    func testLabelsThatNameNoSeriesOfTheDataAreAUsageError() throws {
        try write("labels.json", #"{"memory": \#(windows)}"#)
        let run = try backtest(["--labels", "labels.json"])
        XCTAssertEqual(run.status, 2, run.stderr)
        XCTAssertTrue(run.stderr.contains(#"no rule reads a series the labels name (keys naming nothing in DATA: "memory")"#), run.stderr)
        // A key that names a series no rule reads.
        try write("data/memory.csv", "timestamp,value\n\(t0),1\n")
        try write("labels.json", #"{"memory": []}"#)
        let unread = try Medic.run(["backtest", "rules.yaml", "data/memory.csv", "--metric", "memory", "--labels", "labels.json"], in: directory)
        XCTAssertEqual(unread.status, 2, unread.stderr)
        XCTAssertTrue(unread.stderr.contains("labels.json: no rule reads a series the labels name; a key is"), unread.stderr)
    }

    func testProfileNeedsLabelsAndOneOfItsNames() throws {
        let alone = try backtest(["--profile", "low-fp"])
        XCTAssertEqual(alone.status, 2, alone.stderr)
        XCTAssertTrue(alone.stderr.contains("give --labels FILE"), alone.stderr)
        try write("labels.json", #"{"cpu": \#(windows)}"#)
        let unknown = try backtest(["--labels", "labels.json", "--profile", "lenient"])
        XCTAssertEqual(unknown.status, 2, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("standard, low-fp"), unknown.stderr)
    }

    func testAKeyNamesASeriesBeforeItsMetric() throws {
        try write("disk.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV2
            """)
        // Hosts a and b, 100 minutes each: a above 85 at minutes 30-34, b at minute 60.
        let rows = (0..<100).flatMap { minute in
            ["a", "b"].map { host in
                let high = host == "a" ? (30..<35).contains(minute) : minute == 60
                return "\(t0 + minute * 60),disk_usage_percent,\(high ? 90 : 50),host=\(host);path=/var\n"
            }
        }
        try write("disk.csv", "timestamp,metric,value,labels\n" + rows.joined())
        // Host a's own key gives it a window; b falls back to the metric's key, which says b had
        // no anomaly. Seven keys name nothing here.
        let unrelated = (1...7).map { #""other-\#($0).csv": []"# }.joined(separator: ", ")
        try write("labels.json", #"""
            {"disk_usage_percent{host=\"a\",path=\"/var\"}": [["2024-05-01T00:29:00Z", "2024-05-01T00:36:00Z"]],
             "disk_usage_percent": [], \#(unrelated)}
            """#)
        let a = #"disk_usage_percent{host="a",path="/var"}"#, b = #"disk_usage_percent{host="b",path="/var"}"#
        let json = try Medic.run(["backtest", "disk.yaml", "disk.csv", "--labels", "labels.json", "--json"], in: directory)
        XCTAssertEqual(json.status, 1, json.stderr)
        let labels = try XCTUnwrap(try Medic.json(json.stdout)["labels"] as? [String: Any])
        let rule = try XCTUnwrap((labels["rules"] as? [[String: Any]])?.first)
        XCTAssertEqual(rule["series"] as? [String], [a, b])
        XCTAssertEqual(rule["windows"] as? Int, 1)
        XCTAssertEqual((rule["detected"] as? [[String: String]])?.first?["key"], a)
        XCTAssertEqual((rule["detected"] as? [[String: String]])?.first?["fired"], "2024-05-01T00:30:00Z")
        let falsePositives = try XCTUnwrap(rule["false_positive_firings"] as? [[String: Any]])
        XCTAssertEqual(falsePositives.map { $0["series"] as? String }, [b])
        XCTAssertEqual(falsePositives.map { $0["time"] as? String }, ["2024-05-01T01:00:00Z"])
        XCTAssertEqual((labels["unmatched_keys"] as? [String])?.count, 7)

        let text = try Medic.run(["backtest", "disk.yaml", "disk.csv", "--labels", "labels.json"], in: directory)
        XCTAssertTrue(text.stdout.contains("    false positive  2024-05-01T01:00:00Z  value 90 (score 0.53)  \(b)\n"), text.stdout)
        XCTAssertTrue(text.stdout.contains(#"Label keys that name no series of the data: "other-1.csv", "other-2.csv", "other-3.csv", "other-4.csv", "other-5.csv" and 2 more."#),
                      text.stdout)
    }

    func testARuleNamingAPresetIsToldHowToTuneIt() throws {
        try write("preset.yaml", """
            rules:
              - name: cpu-unusual
                metric: cpu
                detector: ewma-nab
                severity: SEV3
            """)
        try write("labels.json", #"{"cpu": \#(windows)}"#)
        let run = try Medic.run(["backtest", "preset.yaml", "data/cpu.csv", "--metric", "cpu", "--labels", "labels.json"], in: directory)
        // Its 100 samples of warm-up cover the whole series: nothing fires, every window is missed.
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stdout.contains("cpu-unusual: precision n/a (0 firings), recall 0.00 (0 of 3 windows detected), NAB score 0.00"), run.stdout)
        XCTAssertTrue(run.stdout.contains("→ 3 windows missed: make the rule more sensitive: lower `threshold` (now 3)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("→ the rule's detector is the preset ewma-nab (ewma alpha 0.01, threshold 3, warmup 100), which takes no params"),
                      run.stdout)
    }

    func testAWindowOutsideTheDataIsReportedAndLeftOut() throws {
        try write("labels.json", #"{"cpu": [["2024-05-01 00:28:00", "2024-05-01 00:35:00"], ["2024-06-01 00:00:00", "2024-06-01 01:00:00"]]}"#)
        let run = try backtest(["--labels", "labels.json", "--json"])
        let labels = try XCTUnwrap(try Medic.json(run.stdout)["labels"] as? [String: Any])
        XCTAssertEqual(labels["windows_outside_data"] as? [[String: String]],
                       [["series": "cpu", "key": "cpu", "start": "2024-06-01T00:00:00Z", "end": "2024-06-01T01:00:00Z"]])
        let rule = try XCTUnwrap((labels["rules"] as? [[String: Any]])?.first)
        XCTAssertEqual(rule["windows"] as? Int, 1)
        XCTAssertEqual(rule["false_positives"] as? Int, 3, "rows 40, 60 and 86")
    }
}
