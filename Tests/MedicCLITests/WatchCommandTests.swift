import Foundation
import XCTest

/// `medic watch` through the binary: a JSON lines feed starting a real run, a dry run from
/// standard input, safe mode for a new incident type, live sampling stopped by SIGTERM.
final class WatchCommandTests: XCTestCase {
    /// A folder with a disk-filling rule, its playbook and action (which writes to `effects`).
    struct Workspace {
        var dir: URL
        var effects: String { dir.appendingPathComponent("effects").path }
        var state: String { dir.appendingPathComponent("state").path }

        func write(_ path: String, _ text: String) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }

        func medic(_ arguments: [String], stdin: String? = nil) throws -> MedicRun {
            var arguments = arguments
            if ["watch", "run"].contains(arguments.first) { arguments += ["--root", dir.path, "--state-dir", state] }
            guard let stdin else { return try Medic.run(arguments, in: dir) }
            try write("stdin.txt", stdin)
            let process = Process()
            process.executableURL = Medic.binary
            process.arguments = arguments
            process.currentDirectoryURL = dir
            process.standardInput = try FileHandle(forReadingFrom: dir.appendingPathComponent("stdin.txt"))
            let out = Pipe(), err = Pipe()
            process.standardOutput = out
            process.standardError = err
            try process.run()
            let stdout = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return MedicRun(status: process.terminationStatus, stdout: stdout, stderr: stderr, seconds: 0)
        }

        var lines: [String] {
            ((try? String(contentsOfFile: effects, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
    }

    private func workspace() throws -> Workspace { try Self.workspace(for: self) }

    static func workspace(for test: XCTestCase) throws -> Workspace {
        let ws = Workspace(dir: try Medic.temporaryDirectory(test))
        try ws.write("actions/a.yaml", """
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required, log: required}
                implementation: echo "cleaned ${path}" >> "${log}"
            """)
        try ws.write("playbooks/p.yaml", """
            playbook_id: clean-001
            name: Clean
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              path: {type: string, required: true}
              log: {type: string, default: "\(ws.effects)"}
            remediation_steps:
              - {step: 1, name: clean, action: clean}
            metadata: {}
            """)
        try ws.write("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                for: 1m
                severity: SEV3
                playbook: clean-001
                parameters_from_labels: {path: path}
                group_by: [path]
            """)
        return ws
    }

    /// 93% on /var from t0 for 90 s, and 40% on /home: one incident, for /var.
    private static let feed = [0, 30, 60, 90].map {
        #"{"ts": \#(1_800_000_000 + $0), "metric": "disk_usage_percent", "labels": {"path": "/var"}, "value": 93}"# + "\n"
            + #"{"ts": "2027-01-15T08:0\#($0 / 60):\#(String(format: "%02d", $0 % 60))Z", "metric": "disk_usage_percent", "labels": {"path": "/home"}, "value": 40}"#
    }.joined(separator: "\n") + "\n"

    func testAFeedThatFiresARuleStartsARealRunAndJournalsTheDetection() throws {
        let ws = try workspace()
        try ws.write("feed.jsonl", Self.feed)
        // One manual run first: an automated run of a playbook that never succeeded here waits for a person (safe mode).
        XCTAssertEqual(try ws.medic(["run", "clean-001", "--param", "path=/seed"]).status, 0)
        let watch = try ws.medic(["watch", "--input", "feed.jsonl"])
        XCTAssertEqual(watch.status, 0, watch.stdout + watch.stderr)
        XCTAssertEqual(ws.lines, ["cleaned /seed", "cleaned /var"])
        XCTAssertTrue(watch.stdout.contains("FIRING     disk-filling disk_usage_percent{path=\"/var\"}=93 SEV3"), watch.stdout)
        XCTAssertTrue(watch.stdout.contains("succeeded: every step succeeded"), watch.stdout)
        XCTAssertTrue(watch.stdout.contains("feed ended: 1 run(s) started, 0 did not succeed"), watch.stdout)
        // The run's journal names the incident: MTTD is measurable.
        let runs = try FileManager.default.contentsOfDirectory(atPath: ws.state + "/runs").filter { $0.hasSuffix(".jsonl") }
        let journals = try runs.map { try String(contentsOfFile: ws.state + "/runs/" + $0, encoding: .utf8) }
        let watched = try XCTUnwrap(journals.first { $0.contains("\"detection\"") })
        let started = try Medic.json(String(watched.split(separator: "\n")[0]))
        let detection = try XCTUnwrap(started["detection"] as? [String: Any])
        XCTAssertEqual(detection["rule"] as? String, "disk-filling")
        XCTAssertEqual(detection["first_seen"] as? String, "2027-01-15T08:00:00.000Z")
        XCTAssertEqual(detection["fired_at"] as? String, "2027-01-15T08:01:00.000Z")
        XCTAssertEqual(started["mode"] as? String, "automated")
        // `medic show` names the incident and why its playbook was chosen.
        let runID = try XCTUnwrap(started["run"] as? String)
        let show = try ws.medic(["show", runID, "--state-dir", ws.state])
        XCTAssertTrue(show.stdout.contains("Incident: disk-filling{path=\"/var\"} (rule disk-filling"), show.stdout)
        XCTAssertTrue(show.stdout.contains("  1. clean-001  score"), show.stdout)
    }

    func testADryRunFromStandardInputPlansAndRunsNothing() throws {
        let ws = try workspace()
        let watch = try ws.medic(["watch", "--input", "-", "--dry-run", "--json"], stdin: Self.feed)
        XCTAssertEqual(watch.status, 0, watch.stdout + watch.stderr)
        let events = try watch.stdout.split(separator: "\n").map { try Medic.json(String($0)) }
        XCTAssertEqual(events.compactMap { $0["event"] as? String }, ["pending", "incident", "planned", "end"])
        let plan = try XCTUnwrap(events[2]["plan"] as? [String: Any])
        XCTAssertEqual(plan["playbook_id"] as? String, "clean-001")
        XCTAssertNotNil(plan["gates"] as? [[String: Any]])
        XCTAssertEqual(ws.lines, [])
        let journals = ((try? FileManager.default.contentsOfDirectory(atPath: ws.state + "/runs")) ?? []).filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(journals, [], "a dry run starts no run")
    }

    /// The shipped library: rule root-disk-filling names disk-space-cleanup-001, which has its
    /// own trigger on the same metric. A full root disk is one incident, planned once.
    func testOneDiskEventOfTheShippedLibraryIsOneIncident() throws {
        let dir = try Medic.temporaryDirectory(self)
        let feed = stride(from: 0, through: 480, by: 60).map {
            #"{"ts": \#(1_800_000_000 + $0), "metric": "disk_usage_percent", "labels": {"path": "/", "instance": "web-1"}, "value": 95}"#
        }.joined(separator: "\n") + "\n"
        try feed.write(to: dir.appendingPathComponent("feed.jsonl"), atomically: true, encoding: .utf8)
        let watch = try Medic.run(["watch", "--input", dir.appendingPathComponent("feed.jsonl").path, "--dry-run", "--json",
                                   "--root", Medic.repositoryRoot.path, "--state-dir", dir.appendingPathComponent("state").path])
        XCTAssertEqual(watch.status, 0, watch.stdout + watch.stderr)
        let events = try watch.stdout.split(separator: "\n").map { try Medic.json(String($0)) }
        let incidents = events.filter { $0["event"] as? String == "incident" }
        XCTAssertEqual(incidents.map { $0["rule"] as? String }, ["root-disk-filling"], watch.stdout)
        XCTAssertEqual(events.filter { ["planned", "unhandled"].contains($0["event"] as? String) }.count, 1, watch.stdout)
        XCTAssertTrue(watch.stderr.contains("rule trigger:disk-space-cleanup-001: not evaluated: rule root-disk-filling names playbook"),
                      watch.stderr)
    }

    func testANewIncidentTypeWaitsForAPersonAndTheWatchSaysSo() throws {
        let ws = try workspace()
        try ws.write("feed.jsonl", Self.feed)
        let watch = try ws.medic(["watch", "--input", "feed.jsonl"])
        XCTAssertEqual(watch.status, 1, "a run that did not succeed")
        XCTAssertTrue(watch.stdout.contains("waits for approval: medic approve"), watch.stdout)
        XCTAssertEqual(ws.lines, [])
    }

    /// Self-monitoring and escalation through the binary: three watched runs fail, so when the
    /// replay ends the remediation success rate is under 70% (1 of 4 in 30 minutes, with the
    /// manual seed run) and the alert is on the bus; an incident no playbook can take is
    /// escalated there too; a failure of a fault never cured teaches the immune memory nothing.
    func testFailingRunsRaiseAHealthAlertAndAnUnownedIncidentIsEscalated() throws {
        let ws = try workspace()
        try ws.write("actions/q.yaml", """
            actions:
              drain:
                type: application
                risk_level: low
                parameters: {queue: required}
                implementation: test "${queue}" = seed
            """)
        try ws.write("playbooks/q.yaml", """
            playbook_id: drain-001
            name: Drain a queue
            version: 1.0.0
            category: application
            severity: SEV3
            parameters:
              queue: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: drain, action: drain}
            metadata: {}
            """)
        try ws.write("rules/q.yaml", """
            rules:
              - name: queue-backlog
                metric: queue_depth
                detector: threshold
                params: {op: ">", value: 100}
                severity: SEV3
                playbook: drain-001
                parameters_from_labels: {queue: queue}
                group_by: [queue]
              - name: too-hot
                metric: temperature
                detector: threshold
                params: {op: ">", value: 90}
                severity: SEV2
            """)
        XCTAssertEqual(try ws.medic(["run", "drain-001", "--param", "queue=seed"]).status, 0)
        let feed = ["q1", "q2", "q3"].enumerated().map { i, queue in
            #"{"ts": \#(1_800_000_000 + i), "metric": "queue_depth", "labels": {"queue": "\#(queue)"}, "value": 500}"#
        } + [#"{"ts": 1800000010, "metric": "temperature", "labels": {"rack": "r1"}, "value": 99}"#]
        try ws.write("feed.jsonl", feed.joined(separator: "\n") + "\n")
        let watch = try ws.medic(["watch", "--input", "feed.jsonl", "--json", "--lock-wait", "30"])
        XCTAssertEqual(watch.status, 1, "runs failed: " + watch.stdout + watch.stderr)
        let events = try watch.stdout.split(separator: "\n").map { try Medic.json(String($0)) }
        let unhandled = try XCTUnwrap(events.first { $0["event"] as? String == "unhandled" })
        XCTAssertEqual(unhandled["escalated"] as? String, "true")
        let notes = events.compactMap { $0["event"] as? String == "note" ? $0["message"] as? String : nil }
        XCTAssertTrue(notes.contains { $0.contains("remediation_failure_spike") }, notes.joined(separator: "\n"))

        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8).split(separator: "\n")
            .map { try Medic.json(String($0)) }
        let types = outbox.compactMap { $0["type"] as? String }
        XCTAssertTrue(types.contains("dev.medic.incident.escalated"), types.joined(separator: " "))
        let alert = try XCTUnwrap(outbox.first {
            $0["type"] as? String == "dev.medic.health.alert" && ($0["data"] as? [String: Any])?["alert"] as? String == "remediation_failure_spike"
        })
        XCTAssertEqual((alert["data"] as? [String: Any])?["severity"] as? String, "critical")
        XCTAssertFalse(types.contains("chaos.immune-memory.changed"), "failures of unknown faults teach nothing")

        // A second look publishes nothing new: the alert is already raised.
        let health = try ws.medic(["health", "--state-dir", ws.state])
        XCTAssertEqual(health.status, 1, health.stdout)
        let again = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8).split(separator: "\n").count
        XCTAssertEqual(again, outbox.count)
    }

    /// A watched run waits for approval; a person approves it from another process, which runs
    /// it: the watch reports how it ended, and the KPIs count a manual intervention, not automation.
    func testARunApprovedFromAnotherProcessIsReportedByTheWatch() throws {
        let ws = try workspace()
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ["watch", "--input", "-", "--root", ws.dir.path, "--state-dir", ws.state]
        process.currentDirectoryURL = ws.dir
        let feed = Pipe()
        let output = ws.dir.appendingPathComponent("watch.out")
        XCTAssertTrue(FileManager.default.createFile(atPath: output.path, contents: nil))
        process.standardInput = feed
        process.standardOutput = try FileHandle(forWritingTo: output)
        process.standardError = try FileHandle(forWritingTo: output)
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func text() -> String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
        func wait(for needle: String) -> Bool {
            let deadline = Date().addingTimeInterval(60)
            while !text().contains(needle) && Date() < deadline { usleep(50_000) }
            return text().contains(needle)
        }
        try feed.fileHandleForWriting.write(contentsOf: Data(Self.feed.utf8))
        XCTAssertTrue(wait(for: "waits for approval"), text())
        let runID = try XCTUnwrap(text().split(separator: "\n").first { $0.contains("waits for approval") }?.split(separator: " ")
            .dropFirst().first.map(String.init))
        let approve = try ws.medic(["approve", runID, "--by", "alice", "--root", ws.dir.path, "--state-dir", ws.state])
        XCTAssertEqual(approve.status, 0, approve.stdout + approve.stderr)
        XCTAssertEqual(ws.lines, ["cleaned /var"], "the approving process ran it")
        XCTAssertTrue(wait(for: "run        \(runID) succeeded (approved by alice)"), text())
        try feed.fileHandleForWriting.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "the run it started succeeded: " + text())
        XCTAssertTrue(text().contains("feed ended: 1 run(s) started, 0 did not succeed"), text())

        let stats = try Medic.json(try ws.medic(["kb", "stats", "--json", "--state-dir", ws.state]).stdout)
        let kpis = try XCTUnwrap(stats["kpis"] as? [String: Any])
        XCTAssertEqual(kpis["manual_intervention_rate"] as? Double, 1, "\(kpis)")
        XCTAssertEqual(kpis["automation_rate"] as? Double, 0, "a person approved it: \(kpis)")
    }

    /// Rate limits in a replay count on the feed's clock: incidents 30 minutes apart meet a limit
    /// of one run an hour, one 3 hours later does not; a second replay starts the same runs.
    func testTwoReplaysOfOneFeedStartTheSameRuns() throws {
        let ws = try workspace()
        try ws.write("policies/limits.yaml", """
            rate_limits:
              clean:
                scope: playbook
                match: clean-001
                max_runs: 1
                window: 1h
            """)
        XCTAssertEqual(try ws.medic(["run", "clean-001", "--param", "path=/seed"]).status, 0)
        // Three faults, on /var at 0, /srv at 30 min and /opt at 3 h, each 93% for 90 s, then 40%.
        let feed = [(0, "/var"), (1_800, "/srv"), (10_800, "/opt")].flatMap { start, path in
            stride(from: 0, through: 900, by: 30).map { offset in
                #"{"ts": \#(1_800_000_000 + start + offset), "metric": "disk_usage_percent", "labels": {"path": "\#(path)"}, "value": \#(offset <= 90 ? 93 : 40)}"#
            }
        }.joined(separator: "\n") + "\n"
        try ws.write("feed.jsonl", feed)
        func outcomes() throws -> [String] {
            let watch = try ws.medic(["watch", "--input", "feed.jsonl", "--json", "--lock-wait", "60"])
            let events = try watch.stdout.split(separator: "\n").map { try Medic.json(String($0)) }
            let started = events.filter { $0["event"] as? String == "run_started" }.compactMap { $0["run"] as? String }
            let finished = Dictionary(events.filter { $0["event"] as? String == "run_finished" }
                .compactMap { e in (e["run"] as? String).map { ($0, e["outcome"] as? String ?? "?") } }) { a, _ in a }
            return started.map { finished[$0] ?? "none" }
        }
        let first = try outcomes()
        XCTAssertEqual(first, ["succeeded", "refused", "succeeded"], "one run an hour on the feed's clock")
        XCTAssertEqual(try outcomes(), first, "the second replay starts the same runs")
    }

    func testMistakesAreUsageErrors() throws {
        let ws = try workspace()
        let missing = try ws.medic(["watch", "--input", "nope.jsonl"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("nope.jsonl: cannot open the file"), missing.stderr)
        XCTAssertEqual(try ws.medic(["watch", "--interval", "0s"]).status, 2)
        XCTAssertEqual(try ws.medic(["watch", "--input", "x.jsonl", "--scrape", "http://127.0.0.1:1/metrics"]).status, 2)
        try FileManager.default.removeItem(at: ws.dir.appendingPathComponent("rules"))
        try ws.write("feed.jsonl", Self.feed)
        let nothing = try ws.medic(["watch", "--input", "feed.jsonl"])
        XCTAssertEqual(nothing.status, 2)
        XCTAssertTrue(nothing.stderr.contains("nothing to watch"), nothing.stderr)
    }

    func testLiveSamplingFiresFromAMetricSourceAndSIGTERMStopsIt() throws {
        let ws = try workspace()
        try ws.write("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                labels: {path: /var}
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV3
                playbook: clean-001
                parameters: {path: /var}
            """)
        try ws.write("values.json", #"{"disk_usage_percent": 97}"#)
        try ws.write("metrics.yaml", """
            metric_sources:
              - {name: values, type: file, path: values.json, metrics: [disk_usage_percent]}
            """)
        XCTAssertEqual(try ws.medic(["run", "clean-001", "--param", "path=/seed"]).status, 0)
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ["watch", "--interval", "200ms", "--root", ws.dir.path, "--state-dir", ws.state]
        process.currentDirectoryURL = ws.dir
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(30)
        while ws.lines.count < 2 && Date() < deadline { usleep(50_000) }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(ws.lines, ["cleaned /seed", "cleaned /var"], text)
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM, text)
        XCTAssertTrue(text.contains("stopped by signal"), text)
    }
}
