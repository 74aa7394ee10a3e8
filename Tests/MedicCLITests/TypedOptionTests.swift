import Foundation
import XCTest

/// Options whose values have a form (durations, sizes, date-times, bus transports) are parsed by
/// argument-parser before the command runs: a bad value is a usage error (exit 2) that names the
/// option and the forms it accepts, changes nothing, and `--help` lists the forms.
final class TypedOptionTests: XCTestCase {
    func testABadValueIsAUsageErrorNamingTheOptionAndItsForms() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        let durationOrAll = "a duration such as 30m, 24h, 7d or 30d, or all", bus = "stdout, outbox:PATH or webhook:URL"
        let cases: [([String], String, String)] = [
            (["kb", "stats", "--since", "soon", "--state-dir", state], "--since", durationOrAll),
            (["kb", "stats", "--since=-7d", "--state-dir", state], "--since", durationOrAll),
            (["kb", "advise", "--since", "lately", "--state-dir", state], "--since", durationOrAll),
            (["kb", "update", "--window", "0s", "--state-dir", state], "--window", "a duration longer than 0"),
            (["kb", "update", "--window", "month", "--state-dir", state], "--window", "a duration longer than 0"),
            (["validate", "--max-file-size", "0"], "--max-file-size", "a size of at least 1 byte"),
            (["validate", "--max-file-size", "4XB"], "--max-file-size", "a size of at least 1 byte"),
            (["report", "daily", "--at", "2026-13-01T00:00:00Z", "--state-dir", state], "--at", "an RFC 3339 date-time"),
            (["health", "--bus", "carrier-pigeon", "--state-dir", state], "--bus", bus),
            (["memory", "forget", "abc", "--bus", "webhook:ftp://x", "--state-dir", state], "--bus", bus),
            (["memory", "learn", "-", "--bus", "outbox:", "--state-dir", state], "--bus", bus),
            (["watch", "--interval", "soon", "--state-dir", state], "--interval", "a duration such as"),
            (["watch", "--health-interval", "hourly", "--state-dir", state], "--health-interval", "a duration such as"),
            (["watch", "--input", "feed.txt", "--format", "xml", "--state-dir", state], "--format", "jsonl (or json, ndjson), csv or prometheus"),
            (["backtest", "rules.yaml", "data.csv", "--resolve-after", "later"], "--resolve-after", "a duration such as"),
            (["plan", "p-001", "--param", "novalue", "--state-dir", state], "--param", "NAME=VALUE"),
            (["run", "p-001", "--param", "=x", "--state-dir", state], "--param", "NAME=VALUE"),
            (["plan", "--incident", "disk-filling", "--label", "novalue", "--state-dir", state], "--label", "NAME=VALUE"),
        ]
        for (arguments, option, forms) in cases {
            let run = try Medic.run(arguments, in: dir)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("is invalid for '\(option) "), "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("expected \(forms)"), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stdout, "", "\(arguments)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: state), "a refused command created the state directory")
    }

    /// The engine's options (--bus, --workdir) are checked before the state directory is created.
    func testABadEngineOptionCreatesNoStateDirectory() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        for arguments in [["demo", "--bus", "carrier-pigeon"], ["resume", "20260101-000000-00000000", "--bus", "carrier-pigeon"],
                          ["approve", "20260101-000000-00000000", "--by", "a", "--workdir", dir.appendingPathComponent("none").path],
                          ["deny", "20260101-000000-00000000", "--by", "a", "--bus", "outbox:"]] {
            let run = try Medic.run(arguments + ["--state-dir", state], in: dir)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stdout + run.stderr)")
            XCTAssertTrue(run.stderr.contains(arguments.contains("--bus") ? "--bus" : "--workdir"), "\(arguments): \(run.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: state), "\(arguments) created the state directory")
        }
    }

    func testEveryDocumentedFormIsAccepted() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        for since in ["30m", "24h", "7d", "1h30m", "0", "all"] {
            let stats = try Medic.run(["kb", "stats", "--since", since, "--state-dir", state, "--json"], in: dir)
            XCTAssertEqual(stats.status, 0, "--since \(since): \(stats.stderr)")
            let window = try Medic.json(stats.stdout)["since"]
            XCTAssertEqual(since == "all", window is NSNull || window == nil, "--since \(since): \(stats.stdout)")
            let advise = try Medic.run(["kb", "advise", "--since", since, "--state-dir", state], in: dir)
            XCTAssertEqual(advise.status, 0, "--since \(since): \(advise.stderr)")
        }
        for window in ["1s", "7d", "30d"] {
            let update = try Medic.run(["kb", "update", "--window", window, "--state-dir", state], in: dir)
            XCTAssertEqual(update.status, 0, "--window \(window): \(update.stderr)")
        }
        for (folder, fixture) in [("playbooks", "minimal-playbook.yaml"), ("actions", "actions.yaml")] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: Medic.fixtures.appendingPathComponent("valid/" + fixture),
                                             to: dir.appendingPathComponent(folder + "/" + fixture))
        }
        for size in ["4194304", "512KiB", "4MiB", "10MB"] {
            let validate = try Medic.run(["validate", "--root", dir.path, "--max-file-size", size, "--format", "json"], in: dir)
            XCTAssertEqual(validate.status, 0, "--max-file-size \(size): \(validate.stdout + validate.stderr)")
        }
        // A limit below the file's size is applied: the file is refused as too large.
        let tiny = try Medic.run(["validate", "--root", dir.path, "--max-file-size", "1", "--format", "json"], in: dir)
        XCTAssertEqual(tiny.status, 1, tiny.stdout + tiny.stderr)
        for at in ["2026-11-23T08:00:00Z", "2026-11-23T09:00:00.250+01:00"] {
            let report = try Medic.run(["report", "daily", "--at", at, "--state-dir", state, "--json"], in: dir)
            XCTAssertEqual(report.status, 0, "--at \(at): \(report.stderr)")
        }
    }

    func testHelpShowsTheAcceptedForms() throws {
        for (arguments, forms) in [
            (["kb", "stats", "--help"], "or all. Default: all"),
            (["kb", "advise", "--help"], "or all. Default: 30d"),
            (["kb", "update", "--help"], "a duration longer than 0"),
            (["validate", "--help"], "512KiB"),
            (["report", "--help"], "2026-11-23T09:00:00+01:00"),
            (["watch", "--help"], "Default: 15s"),
        ] {
            let help = try Medic.run(arguments)
            XCTAssertEqual(help.status, 0, "\(arguments): \(help.stderr)")
            XCTAssertTrue(help.stdout.replacingOccurrences(of: "\n", with: " ").split(separator: " ").joined(separator: " ").contains(forms),
                          "\(arguments): \(help.stdout)")
        }
    }
}
