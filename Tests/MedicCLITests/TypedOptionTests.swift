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

    /// The options of the commands that run playbooks and detectors: each bad value is refused by
    /// argument-parser, naming the option and its forms, before any state is created.
    func testARunOrDetectorOptionWithABadValueIsAUsageErrorNamingItsForms() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        let csv = dir.appendingPathComponent("series.csv").path
        try "timestamp,value\n0,1\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let missing = dir.appendingPathComponent("no-such-dir").path, file = csv
        let bus = "stdout, outbox:PATH or webhook:URL", target = "NAME[,LABEL=VALUE...]"
        let cases: [([String], String, String)] = [
            (["run", "p-001", "--bus", "carrier-pigeon"], "--bus", bus),
            (["watch", "--bus", "outbox:"], "--bus", bus),
            (["approve", "20260101-000000-00000000", "--by", "a", "--bus", "webhook:ftp://x"], "--bus", bus),
            (["run", "p-001", "--workdir", missing], "--workdir", "an existing directory"),
            (["resume", "20260101-000000-00000000", "--workdir", file], "--workdir", "an existing directory"),
            (["run", "p-001", "--pass-env", "HOME=/tmp"], "--pass-env", "a variable name"),
            (["demo", "--pass-env", ""], "--pass-env", "a variable name"),
            (["run", "p-001", "--sign-off", "sre_lead="], "--sign-off", "ROLE=NAME"),
            (["plan", "p-001", "--sign-off", "=alice"], "--sign-off", "ROLE=NAME"),
            (["plan", "p-001", "--sign-off", "alice"], "--sign-off", "ROLE=NAME"),
            (["plan", "p-001", "--target", "web-1,region"], "--target", target),
            (["run", "p-001", "--target", "web-*"], "--target", target),
            (["plan", "p-001", "--target", "all"], "--target", target),
            (["detect", "--detector", "kalman", "--csv", csv], "--detector", "threshold, moving_average, ewma, iqr"),
            (["detect", "--detector", "ewma", "--param", "alpha", "--csv", csv], "--param", "KEY=VALUE"),
            (["detect", "--detector", "ewma", "--param", "9lives=1", "--csv", csv], "--param", "KEY=VALUE"),
            (["detect", "--detector", "ewma", "--param", "alpha=0.1\n0.2", "--csv", csv], "--param", "KEY=VALUE"),
        ]
        for (arguments, option, forms) in cases {
            let run = try Medic.run(arguments + (arguments.first == "detect" ? [] : ["--state-dir", state]), in: dir)
            XCTAssertEqual(run.status, 2, "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("is invalid for '\(option) "), "\(arguments): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("expected \(forms)"), "\(arguments): \(run.stderr)")
            XCTAssertEqual(run.stdout, "", "\(arguments)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: state), "a refused command created the state directory")
        let typo = try Medic.run(["detect", "--detector", "thresold", "--csv", csv], in: dir)
        XCTAssertTrue(typo.stderr.contains("(did you mean 'threshold'?)"), typo.stderr)
    }

    /// The accepted forms reach the run: the step works in --workdir and sees the --pass-env
    /// variable; --target and --sign-off reach the plan.
    func testTheRunOptionsAcceptedFormsReachTheRun() throws {
        let ws = try LibraryWorkspace(self, actions: """
            actions:
              where_am_i:
                type: infrastructure
                risk_level: low
                description: Says where it runs and what it sees.
                parameters: {log: required}
                implementation: |
                  pwd >> "${log}"
                  printenv MEDIC_TYPED_VARIABLE >> "${log}" || echo unset >> "${log}"
            """, playbooks: """
            playbook_id: where-001
            name: Where
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              log: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: where, action: where_am_i}
            metadata: {}
            """)
        let workdir = ws.dir.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: workdir, withIntermediateDirectories: true)
        let run = try Medic.run(ws.arguments(["run", "where-001", "--param", "log=\(ws.log)", "--workdir", workdir.path,
                                              "--pass-env", "MEDIC_TYPED_VARIABLE"]),
                                in: ws.dir, environment: ["MEDIC_TYPED_VARIABLE": "seen"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(ws.effects.count, 2, "\(ws.effects)")
        XCTAssertEqual(ws.effects.first.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().path },
                       workdir.resolvingSymlinksInPath().path)
        XCTAssertEqual(ws.effects.last, "seen")

        let plan = try ws.medic(["plan", "where-001", "--root", ws.dir.path, "--param", "log=\(ws.log)", "--json",
                                 "--target", "web-1,zone=eu,service=web", "--sign-off", "sre_lead=erin"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let targets = try XCTUnwrap(Medic.json(plan.stdout)["targets"] as? [[String: Any]], plan.stdout)
        XCTAssertEqual(targets.first?["name"] as? String, "web-1")
        XCTAssertEqual(targets.first?["labels"] as? [String: String], ["zone": "eu", "service": "web"])
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
