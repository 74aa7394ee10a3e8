import Foundation
import XCTest

/// `medic backtest` through the built binary.
final class BacktestCommandTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = try Medic.temporaryDirectory(self)
        try write("rules.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                labels: {path: /var}
                detector: threshold
                params: {op: ">", value: 85}
                for: 5m
                severity: SEV2
                playbook: disk-space-cleanup-002
                parameters_from_labels: {paths: path}
                cooldown: 30m
                group_by: [host]
            """)
    }

    @discardableResult
    private func write(_ name: String, _ text: String) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    /// 2024-05-01T10:00:00Z.
    private let t0 = 1_714_557_600

    /// An hour of samples a minute apart for hosts a and b; host a is above 85 from minute 10
    /// to 29, host b never.
    private func history() -> [(time: Int, host: String, value: Int)] {
        (0..<60).flatMap { minute in
            ["a", "b"].map { host in (t0 + minute * 60, host, host == "a" && (10..<30).contains(minute) ? 90 : 50) }
        }
    }

    private func csv() -> String {
        "timestamp,metric,value,labels\n" + history().map { "\($0.time),disk_usage_percent,\($0.value),host=\($0.host);path=/var\n" }.joined()
    }

    private func jsonLines() -> String {
        history().map { #"{"ts": \#($0.time), "metric": "disk_usage_percent", "labels": {"host": "\#($0.host)", "path": "/var"}, "value": \#($0.value)}"# + "\n" }.joined()
    }

    // MARK: Tests

    func testReplaysACSVFileAndPrintsWhatWouldHaveFiredAndWhen() throws {
        try write("history.csv", csv())
        let run = try Medic.run(["backtest", "rules.yaml", "history.csv"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stdout, """
            2024-05-01T10:15:00Z  disk-filling  disk-filling{host="a"}
              series disk_usage_percent{host="a",path="/var"}
              first seen 2024-05-01T10:10:00Z, resolved 2024-05-01T10:30:00Z
              peak 90 (score 0.53), last 90, 1 firing, SEV2
              playbook disk-space-cleanup-002 (paths=/var)

            Rules:
              disk-filling  1 incident; 2 series, 120 samples

            1 incident from 120 samples of history.csv.

            """)
        // No playbook library here: the rule's playbook cannot be checked, which does not stop a backtest.
        XCTAssertTrue(run.stderr.contains("warning[M310]"), run.stderr)
    }

    func testJSONLinesWithJSONOutput() throws {
        try write("history.jsonl", jsonLines())
        let run = try Medic.run(["backtest", "rules.yaml", "history.jsonl", "--json", "--resolve-after", "0"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        let document = try Medic.json(run.stdout)
        let incidents = try XCTUnwrap(document["incidents"] as? [[String: Any]])
        XCTAssertEqual(incidents.count, 1)
        let incident = incidents[0]
        XCTAssertEqual(incident["rule"] as? String, "disk-filling")
        XCTAssertEqual(incident["incident_key"] as? String, #"disk-filling{host="a"}"#)
        XCTAssertEqual(incident["series"] as? String, #"disk_usage_percent{host="a",path="/var"}"#)
        XCTAssertEqual(incident["first_seen"] as? String, "2024-05-01T10:10:00Z")
        XCTAssertEqual(incident["fired"] as? String, "2024-05-01T10:15:00Z")
        XCTAssertEqual(incident["resolved"] as? String, "2024-05-01T10:30:00Z")
        XCTAssertEqual(incident["active"] as? Bool, false)
        XCTAssertEqual(incident["peak_value"] as? Double, 90)
        XCTAssertEqual(incident["firings"] as? Int, 1)
        XCTAssertEqual(incident["severity"] as? String, "SEV2")
        XCTAssertEqual(incident["playbook"] as? String, "disk-space-cleanup-002")
        XCTAssertEqual(incident["parameters"] as? [String: String], ["paths": "/var"])
        XCTAssertEqual(incident["labels"] as? [String: String], ["host": "a", "path": "/var"])
        let rules = try XCTUnwrap(document["rules"] as? [[String: Any]])
        XCTAssertEqual(rules.map { $0["rule"] as? String }, ["disk-filling"])
        XCTAssertEqual(rules[0]["samples"] as? Int, 120)
        XCTAssertEqual(rules[0]["series"] as? Int, 2)
        XCTAssertEqual(rules[0]["incidents"] as? Int, 1)
        XCTAssertEqual(rules[0]["origin"] as? String, "rule")
        let data = try XCTUnwrap(document["data"] as? [String: Any])
        XCTAssertEqual(data["samples"] as? Int, 120)
        XCTAssertEqual(data["skipped"] as? Int, 0)
        XCTAssertEqual((document["rejected"] as? [Any])?.count, 0)
    }

    func testReadsStandardInputAndTellsItsFormatFromTheFirstLine() throws {
        let input = try write("feed", jsonLines())
        let run = try runWithInput(["backtest", "rules.yaml", "-", "--json"], input: input)
        XCTAssertEqual(run.status, 0, run.stderr)
        let document = try Medic.json(run.stdout)
        XCTAssertEqual((document["incidents"] as? [[String: Any]])?.first?["fired"] as? String, "2024-05-01T10:15:00Z")
        XCTAssertEqual((document["data"] as? [String: Any])?["source"] as? String, "<stdin>")
        // CSV on standard input too.
        let csvInput = try write("feed-csv", csv())
        let csvRun = try runWithInput(["backtest", "rules.yaml", "-"], input: csvInput)
        XCTAssertEqual(csvRun.status, 0, csvRun.stderr)
        XCTAssertTrue(csvRun.stdout.hasPrefix("2024-05-01T10:15:00Z  disk-filling"), csvRun.stdout)
    }

    func testAMalformedLineIsReportedWithItsLineAndSkipped() throws {
        var lines = csv().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        lines.insert("2024-05-01T10:00:00Z,disk_usage_percent,lots,host=a;path=/var", at: 3)
        lines.insert("yesterday,disk_usage_percent,1,host=a;path=/var", at: 5)
        try write("history.csv", lines.joined(separator: "\n"))
        let run = try Medic.run(["backtest", "rules.yaml", "history.csv"], in: directory)
        XCTAssertEqual(run.status, 0, "a backtest with skipped lines still ran")
        let errors = run.stderr.split(separator: "\n").filter { $0.hasPrefix("history.csv:") }
        XCTAssertEqual(errors, [
            "history.csv:4: 'lots' is not a number, NaN, +Inf or -Inf",
            "history.csv:6: 'yesterday' is not a timestamp (RFC 3339, YYYY-MM-DD HH:MM:SS or epoch seconds)",
        ])
        XCTAssertTrue(run.stdout.hasSuffix("1 incident from 120 samples of history.csv; 2 lines could not be read and were skipped.\n"), run.stdout)
        let strict = try Medic.run(["backtest", "rules.yaml", "history.csv", "--strict"], in: directory)
        XCTAssertEqual(strict.status, 1)
        XCTAssertTrue(strict.stdout.contains("disk-filling"), "the report is still printed")
    }

    func testOnlyTheFirstBadLinesAreReportedInFull() throws {
        try write("history.jsonl", String(repeating: "not json\n", count: 12) + jsonLines())
        let run = try Medic.run(["backtest", "rules.yaml", "history.jsonl", "--json"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertEqual(run.stderr.split(separator: "\n").filter { $0.hasPrefix("history.jsonl:") && $0.dropFirst(14).first!.isNumber }.count, 5)
        XCTAssertTrue(run.stderr.contains("history.jsonl: 7 more lines could not be read"), run.stderr)
        let data = try XCTUnwrap(try Medic.json(run.stdout)["data"] as? [String: Any])
        XCTAssertEqual(data["skipped"] as? Int, 12)
        XCTAssertEqual((data["errors"] as? [[String: Any]])?.first?["line"] as? Int, 1)
    }

    func testAMissingFileIsAnErrorNamingIt() throws {
        let data = try Medic.run(["backtest", "rules.yaml", "nowhere.csv"], in: directory)
        XCTAssertEqual(data.status, 1)
        XCTAssertEqual(data.stderr.split(separator: "\n").last, "nowhere.csv: cannot open the file (does it exist, and is it readable?)")
        XCTAssertEqual(data.stdout, "")
        try write("history.csv", csv())
        let rules = try Medic.run(["backtest", "missing.yaml", "history.csv"], in: directory)
        XCTAssertEqual(rules.status, 1)
        XCTAssertTrue(rules.stderr.contains("missing.yaml: error[M001]"), rules.stderr)
        XCTAssertTrue(rules.stderr.contains("nothing was replayed"), rules.stderr)
    }

    func testRulesWithErrorsAreNotReplayed() throws {
        try write("broken.yaml", "rules:\n  - name: x\n    metric: up\n    detector: thresholds\n    severity: SEV2\n")
        try write("history.csv", csv())
        let run = try Medic.run(["backtest", "broken.yaml", "history.csv"], in: directory)
        XCTAssertEqual(run.status, 1)
        XCTAssertTrue(run.stderr.contains("broken.yaml:4:15: error["), run.stderr)
        XCTAssertEqual(run.stdout, "")
    }

    func testUsageErrorsExitTwo() throws {
        try write("history.txt", csv())
        let unknown = try Medic.run(["backtest", "rules.yaml", "history.txt"], in: directory)
        XCTAssertEqual(unknown.status, 2)
        XCTAssertTrue(unknown.stderr.contains("cannot tell the format of 'history.txt'"), unknown.stderr)
        let forced = try Medic.run(["backtest", "rules.yaml", "history.txt", "--format", "csv"], in: directory)
        XCTAssertEqual(forced.status, 0, forced.stderr)
        XCTAssertEqual(try Medic.run(["backtest", "rules.yaml", "history.txt", "--format", "xml"], in: directory).status, 2)
        XCTAssertEqual(try Medic.run(["backtest", "rules.yaml", "history.txt", "--format", "csv", "--resolve-after", "soon"], in: directory).status, 2)
        XCTAssertEqual(try Medic.run(["backtest", "rules.yaml"], in: directory).status, 2)
    }

    func testANABSeriesNeedsItsMetric() throws {
        try write("rules.yaml", """
            rules:
              - name: hot
                metric: machine_temperature
                detector: threshold
                params: {op: ">", value: 100}
                severity: SEV3
            """)
        try write("nab.csv", "timestamp,value\n2013-12-02 21:15:00,73.9\n2013-12-02 21:20:00,101.5\n")
        let missing = try Medic.run(["backtest", "rules.yaml", "nab.csv"], in: directory)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nab.csv:1: the header has no metric column (timestamp,value) and no metric name was given for its rows (give --metric NAME)"), missing.stderr)
        let run = try Medic.run(["backtest", "rules.yaml", "nab.csv", "--metric", "machine_temperature"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.hasPrefix("2013-12-02T21:20:00Z  hot  machine_temperature\n"), run.stdout)
        XCTAssertTrue(run.stdout.contains("still active when the data ended"), run.stdout)
    }

    func testTheShippedRulesResolveAgainstTheirOwnLibraryFromAnywhere() throws {
        // RULES is the repository's rules/ folder; the current directory is elsewhere. Its
        // playbooks are found beside it, so no M310 "not loaded" for any of its rules.
        try write("history.csv", csv())
        let rules = Medic.repositoryRoot.appendingPathComponent("rules").path
        for given in [rules, rules + "/", rules + "/host.yaml"] {
            let run = try Medic.run(["backtest", given, "history.csv"], in: directory)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertFalse(run.stderr.contains("M310"), run.stderr)
            XCTAssertTrue(run.stdout.contains("root-disk-filling"), run.stdout)
        }
    }

    func testPlaybookTriggersActAsRulesWithRoot() throws {
        // The shipped library: disk-space-cleanup-001's trigger is disk_usage_percent > 85 for 5m.
        try write("history.csv", csv())
        let root = Medic.repositoryRoot.path
        let run = try Medic.run(["backtest", "--root", root, "rules.yaml", "history.csv", "--json"], in: directory)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertFalse(run.stderr.contains("M310"), "the playbook resolves against the library")
        let document = try Medic.json(run.stdout)
        let incidents = try XCTUnwrap(document["incidents"] as? [[String: Any]])
        XCTAssertEqual(Set(incidents.compactMap { $0["rule"] as? String }), ["disk-filling", "trigger:disk-space-cleanup-001"])
        let rules = try XCTUnwrap(document["rules"] as? [[String: Any]])
        XCTAssertTrue(rules.contains { $0["rule"] as? String == "trigger:pod-restart-001" && $0["origin"] as? String == "trigger" })
        XCTAssertEqual((document["rejected"] as? [Any])?.count, 0, "every shipped trigger can be evaluated")
        let without = try Medic.run(["backtest", "--root", root, "rules.yaml", "history.csv", "--json", "--no-triggers"], in: directory)
        let rulesWithout = try XCTUnwrap(try Medic.json(without.stdout)["rules"] as? [[String: Any]])
        XCTAssertEqual(rulesWithout.map { $0["rule"] as? String }, ["disk-filling"])
    }

    func testHelpTeachesWithAnExample() throws {
        let run = try Medic.run(["backtest", "--help"])
        XCTAssertEqual(run.status, 0)
        XCTAssertTrue(run.stdout.contains("medic backtest rules/disk.yaml history.csv"), run.stdout)
        XCTAssertTrue(run.stdout.contains("timestamp,metric,value[,labels]"), run.stdout)
        XCTAssertTrue(run.stdout.contains("Exit status"), run.stdout)
    }

    // MARK: Standard input

    /// Runs medic with `input` as its standard input (`Medic.run` gives it none).
    private func runWithInput(_ arguments: [String], input: String) throws -> MedicRun {
        let out = directory.appendingPathComponent("stdout-\(UUID().uuidString)")
        let err = directory.appendingPathComponent("stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        process.standardInput = try XCTUnwrap(FileHandle(forReadingAtPath: input))
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let start = Date()
        try process.run()
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            process.waitUntilExit()
            finished.signal()
        }
        if finished.wait(timeout: .now() + 60) == .timedOut {
            process.terminate()
            XCTFail("medic \(arguments.joined(separator: " ")) did not finish within 60 s")
            finished.wait()
        }
        return MedicRun(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                        stderr: try String(contentsOf: err, encoding: .utf8), seconds: Date().timeIntervalSince(start))
    }
}
