import Foundation
import XCTest

/// `medic chaos` through the binary, on a copy of examples/chaos: real services on loopback, real
/// faults, the real watch healing them; the fault reverted after a healing, a signal, a SIGKILL
/// of Medic (by `medic chaos recover` or the next `medic chaos run`), and never injected where
/// it may not be.
final class ChaosCommandTests: XCTestCase {
    struct WaitedInVain: Error { var what: String }

    struct Lab {
        var dir: URL
        var state: String { dir.appendingPathComponent("state").path }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

        func write(_ name: String, _ text: String) throws {
            try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }

        func medic(_ arguments: [String], timeout: Double = 240, environment: [String: String] = [:]) throws -> MedicRun {
            try Medic.run(arguments + ["--state-dir", state], in: dir, timeout: timeout, environment: environment)
        }

        /// `medic chaos run FILE` started in the background, its output in a file.
        func start(_ arguments: [String]) throws -> (Process, URL) {
            let log = dir.appendingPathComponent("medic-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = Medic.binary
            process.arguments = arguments + ["--state-dir", state]
            process.currentDirectoryURL = dir
            process.standardOutput = try FileHandle(forWritingTo: log)
            process.standardError = try FileHandle(forWritingTo: log)
            try process.run()
            return (process, log)
        }

        /// Polls `condition` for up to 120 s.
        func wait(_ what: String, _ condition: () -> Bool) throws {
            let deadline = Date().addingTimeInterval(120)
            while !condition() {
                guard Date() < deadline else { throw WaitedInVain(what: what) }
                usleep(50_000)
            }
        }

        /// Stops whatever the lab left running (a failed test must not leave services behind).
        func stopAll() {
            for component in ["web", "dep", "proxy", "leaker", "hog"] {
                let task = Process()
                task.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                task.arguments = ["python3", path("bin/lab.py"), "stop", component]
                try? task.run()
                task.waitUntilExit()
            }
        }
    }

    /// A copy of examples/chaos in a temporary directory. The lab needs python3: without it the
    /// tests are skipped, except under CI=true, where they fail.
    private func lab() throws -> Lab {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        probe.arguments = ["python3", "-c", "pass"]
        probe.standardError = FileHandle.nullDevice
        if (try? probe.run()) == nil || { probe.waitUntilExit(); return probe.terminationStatus != 0 }() {
            if ProcessInfo.processInfo.environment["CI"] == "true" { XCTFail("python3 is missing, and CI=true requires it") }
            throw XCTSkip("python3 is missing")
        }
        let dir = try Medic.temporaryDirectory(self)
        let source = Medic.repositoryRoot.appendingPathComponent("examples/chaos")
        for name in try FileManager.default.contentsOfDirectory(atPath: source.path) {
            try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: dir.appendingPathComponent(name))
        }
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("sandbox"), withIntermediateDirectories: true)
        let lab = Lab(dir: dir)
        addTeardownBlock { lab.stopAll() }
        return lab
    }

    /// An experiment whose fault is a marker file that no rule watches: Medic waits for a
    /// detection that never comes, which leaves time to stop it.
    private func markerExperiment(_ lab: Lab, allowed: String = "true", detectWithin: String = "120s") throws -> String {
        try lab.write("marker.yaml", """
            id: marker
            fault_type: marker
            targets: [{name: chaos-sandbox, labels: {chaos_allowed: "\(allowed)"}}]
            setup: [{name: setup, shell: touch sandbox/setup-ran}]
            steady_state: [{name: no marker, shell: test ! -e sandbox/fault-marker}]
            fault:
              inject: [{name: place the marker, shell: touch sandbox/fault-marker}]
              revert: [{name: remove the marker, shell: rm -f sandbox/fault-marker && echo reverted >> sandbox/reverts}]
            detection: {rule: chaos-web-down, within: \(detectWithin)}
            recovery: {within: 180s}
            """)
        return "marker.yaml"
    }

    /// Problems of `value` against schemas/output/NAME.schema.json.
    private func shapeProblems(_ value: Any, _ name: String) throws -> [String] {
        try OutputSchemaChecker(schema: Medic.repositoryRoot.appendingPathComponent("schemas/output/\(name).schema.json")).problems(value)
    }

    func testAKilledServiceIsDetectedRestartedVerifiedAndRevertedAndTheOutcomeIsLearnt() throws {
        let lab = try lab()
        let run = try lab.medic(["chaos", "run", "experiments/1-web-killed.yaml", "--root", ".", "--approved-by", "ci", "--json"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(try shapeProblems(report, "chaos-report"), [])
        XCTAssertEqual(report["outcome"] as? String, "healed", run.stdout)
        XCTAssertEqual(report["reverted"] as? Bool, true)
        XCTAssertNotNil(report["time_to_detect"] as? Double, run.stdout)
        XCTAssertNotNil(report["time_to_recover"] as? Double, run.stdout)
        let runs = try XCTUnwrap(report["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.first?["playbook"] as? String, "chaos-web-restart")
        XCTAssertEqual(runs.first?["outcome"] as? String, "succeeded")
        // The teardown stopped the service the setup started.
        XCTAssertFalse(lab.exists("sandbox/web.pid"))
        let knowledge = try String(contentsOfFile: lab.state + "/knowledge/chaos-experiments.jsonl", encoding: .utf8)
        XCTAssertTrue(knowledge.contains(#""experiment":"web-killed""#), knowledge)
        let memory = try String(contentsOfFile: lab.state + "/knowledge/immune-memory.json", encoding: .utf8)
        XCTAssertTrue(memory.contains("service-killed:http:1"), memory)
        XCTAssertTrue(memory.contains("chaos-web-restart"), memory)
    }

    func testAMedicKilledMidExperimentLeavesAJournalFromWhichTheFaultIsReverted() throws {
        let lab = try lab()
        let experiment = try markerExperiment(lab)
        // `medic chaos recover` finishes the revert.
        var (process, log) = try lab.start(["chaos", "run", experiment, "--root", "."])
        try lab.wait("the fault") { lab.exists("sandbox/fault-marker") }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertTrue(lab.exists("sandbox/fault-marker"), "the SIGKILL left the fault in place")
        var recover = try lab.medic(["chaos", "recover"])
        let killed = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(recover.status, 0, recover.stdout + recover.stderr + killed)
        XCTAssertFalse(lab.exists("sandbox/fault-marker"), recover.stdout)
        XCTAssertTrue(recover.stdout.contains("marker: fault reverted"), recover.stdout)
        recover = try lab.medic(["chaos", "recover"])
        XCTAssertTrue(recover.stdout.contains("Nothing to recover"), recover.stdout)

        // The next `medic chaos run` finishes it too, before anything else (here: a refusal).
        (process, log) = try lab.start(["chaos", "run", experiment, "--root", "."])
        try lab.wait("the fault") { lab.exists("sandbox/fault-marker") }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let refused = try markerExperiment(lab, allowed: "false")
        let next = try lab.medic(["chaos", "run", refused, "--root", "."])
        XCTAssertEqual(next.status, 1, next.stdout + next.stderr)
        XCTAssertTrue(next.stdout.contains("recovered marker"), next.stdout)
        XCTAssertFalse(lab.exists("sandbox/fault-marker"))
        XCTAssertEqual(try String(contentsOfFile: lab.path("sandbox/reverts"), encoding: .utf8), "reverted\nreverted\n")
    }

    func testSIGINTRevertsTheFaultBeforeMedicExits() throws {
        let lab = try lab()
        let (process, log) = try lab.start(["chaos", "run", try markerExperiment(lab), "--root", "."])
        try lab.wait("the fault") { lab.exists("sandbox/fault-marker") }
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        let output = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(process.terminationStatus, 128 + SIGINT, output)
        XCTAssertFalse(lab.exists("sandbox/fault-marker"), output)
        XCTAssertTrue(output.contains("stopped by signal"), output)
        let recover = try lab.medic(["chaos", "recover"])
        XCTAssertTrue(recover.stdout.contains("Nothing to recover"), recover.stdout)
    }

    func testAPauseDuringAnExperimentAbortsItAndRevertsTheFault() throws {
        let lab = try lab()
        let (process, log) = try lab.start(["chaos", "run", try markerExperiment(lab), "--root", "."])
        try lab.wait("the fault") { lab.exists("sandbox/fault-marker") }
        XCTAssertEqual(try lab.medic(["pause", "--by", "ops", "--reason", "incident elsewhere"]).status, 0)
        process.waitUntilExit()
        let output = try String(contentsOf: log, encoding: .utf8)
        XCTAssertEqual(process.terminationStatus, 1, output)
        XCTAssertTrue(output.contains("aborted: Medic was paused (by ops) during the experiment"), output)
        XCTAssertFalse(lab.exists("sandbox/fault-marker"), output)
    }

    func testAnUndetectedFaultIsRevertedAndTheRunFails() throws {
        let lab = try lab()
        let run = try lab.medic(["chaos", "run", try markerExperiment(lab, detectWithin: "3s"), "--root", ".", "--json"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(report["outcome"] as? String, "not_detected")
        XCTAssertEqual(try shapeProblems(report, "chaos-report"), [])
        XCTAssertEqual(report["reverted"] as? Bool, true)
        XCTAssertFalse(lab.exists("sandbox/fault-marker"))
    }

    func testNoFaultWhereItIsNotAllowedWhilePausedOrWhileAnotherExperimentRuns() throws {
        let lab = try lab()
        // A target without chaos_allowed: "true": nothing runs, not even the setup.
        var run = try lab.medic(["chaos", "run", try markerExperiment(lab, allowed: "false"), "--root", "."])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("not labelled chaos_allowed"), run.stdout)
        XCTAssertFalse(lab.exists("sandbox/setup-ran"))
        // Paused: refused.
        XCTAssertEqual(try lab.medic(["pause", "--by", "ops"]).status, 0)
        run = try lab.medic(["chaos", "run", try markerExperiment(lab), "--root", "."])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("paused"), run.stdout)
        XCTAssertFalse(lab.exists("sandbox/setup-ran"))
        XCTAssertEqual(try lab.medic(["resume-all", "--by", "ops"]).status, 0)
        // One at a time.
        let (process, _) = try lab.start(["chaos", "run", "marker.yaml", "--root", "."])
        try lab.wait("the fault") { lab.exists("sandbox/fault-marker") }
        run = try lab.medic(["chaos", "run", "marker.yaml", "--root", "."])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("another chaos experiment is running"), run.stderr)
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
        XCTAssertFalse(lab.exists("sandbox/fault-marker"))
        // A bad file: located errors, exit 2, nothing run.
        try lab.write("bad.yaml", "id: bad\nfault_type: x\ntargets: []\nsteady_state: [{name: a, shell: true, colour: red}]\n")
        run = try lab.medic(["chaos", "run", "bad.yaml", "--root", "."])
        XCTAssertEqual(run.status, 2, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("bad.yaml:4:"), run.stderr)
        XCTAssertTrue(run.stderr.contains("unknown key 'colour'"), run.stderr)
        XCTAssertTrue(run.stderr.contains("missing 'fault'"), run.stderr)
    }

    func testTheBlastRadiusGrowingAbortsTheExperimentAndRevertsTheFault() throws {
        let lab = try lab()
        // The fault fills the disk and makes a process leak: two incidents where one is allowed.
        try lab.write("spread.yaml", """
            id: spread
            fault_type: disk-filling
            targets: [{name: chaos-sandbox, labels: {chaos_allowed: "true"}}]
            setup:
              - {name: a disk, shell: mkdir -p sandbox/disk}
              - {name: a process, shell: python3 bin/lab.py start leaker}
            steady_state: [{name: small disk, shell: python3 bin/lab.py check disk}]
            fault:
              inject:
                - {name: fill, shell: python3 bin/lab.py fill 30}
                - {name: leak, shell: python3 bin/lab.py leak}
              revert:
                - {name: clean, shell: python3 bin/lab.py clean}
                - {name: no leak, shell: python3 bin/lab.py stop leaker}
            detection: {rule: chaos-sandbox-disk-filling, within: 60s}
            recovery: {within: 120s}
            blast_radius: {max_incidents: 1}
            """)
        // A cure that waits, so that the second incident comes before the first is healed.
        try lab.write("actions/chaos.yaml", try String(contentsOfFile: lab.path("actions/chaos.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "implementation: python3 bin/lab.py clean", with: "implementation: sleep 30; python3 bin/lab.py clean"))
        let run = try lab.medic(["chaos", "run", "spread.yaml", "--root", ".", "--approved-by", "ci", "--json"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(report["outcome"] as? String, "aborted", run.stdout)
        XCTAssertTrue((report["reason"] as? String ?? "").contains("blast radius"), run.stdout)
        XCTAssertEqual(report["reverted"] as? Bool, true)
        XCTAssertFalse(lab.exists("sandbox/leaker.pid"))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: lab.path("sandbox/disk")).filter { $0.hasPrefix("junk") }, [])
    }

    func testARemediationThatWouldReachATargetOutsideTheExperimentIsNotStartedAndTheExperimentAborts() throws {
        let lab = try lab()
        try lab.write("playbooks/chaos-disk-clean.yaml", try String(contentsOfFile: lab.path("playbooks/chaos-disk-clean.yaml"), encoding: .utf8)
            + "targets: [prod-db-1]\n")
        let run = try lab.medic(["chaos", "run", "experiments/4-disk-filling.yaml", "--root", ".", "--approved-by", "ci", "--json"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(report["outcome"] as? String, "aborted", run.stdout)
        XCTAssertTrue((report["reason"] as? String ?? "").contains("would reach prod-db-1, outside the experiment's targets"), run.stdout)
        XCTAssertEqual((report["runs"] as? [Any])?.count, 0, run.stdout)
        XCTAssertEqual(try Medic.run(["runs", "--state-dir", lab.state, "--json"], in: lab.dir).stdout.contains("chaos-disk-clean"), false)
        XCTAssertEqual(report["reverted"] as? Bool, true)
    }

    func testChaosToolkitExperimentsRunTheirProvidersSayWhatTheyCannotRunAndAlwaysRollBack() throws {
        let lab = try lab()
        let start = Process()
        start.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        start.arguments = ["python3", lab.path("bin/lab.py"), "start", "web"]
        try start.run()
        start.waitUntilExit()
        let port = try String(contentsOfFile: lab.path("sandbox/web.port"), encoding: .utf8)
        var run = try lab.medic(["chaos", "run", "chaostoolkit/web-killed.json", "--root", ".", "--approved-by", "ci"],
                                environment: ["WEB_PORT": port])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("not run: controls"), run.stdout)
        XCTAssertTrue(run.stdout.contains("'python-probe' uses a python provider"), run.stdout)
        XCTAssertTrue(run.stdout.contains("ctk-web-killed: healed, reverted"), run.stdout)
        // Its configuration from the environment: without it, a clear error and nothing run.
        try lab.write("unset.json", try String(contentsOfFile: lab.path("chaostoolkit/web-killed.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"WEB_PORT\"", with: "\"MEDIC_TEST_NEVER_SET\""))
        let journals = try FileManager.default.contentsOfDirectory(atPath: lab.state + "/chaos").count
        run = try lab.medic(["chaos", "run", "unset.json", "--root", "."])
        XCTAssertEqual(run.status, 2, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("environment variable MEDIC_TEST_NEVER_SET, which is not set"), run.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: lab.state + "/chaos").count, journals, "nothing was run")
        // A fault no rule detects: not detected (exit 1), and the rollbacks ran.
        run = try lab.medic(["chaos", "run", "chaostoolkit/undetected-fault.yaml", "--root", ".", "--json"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(report["outcome"] as? String, "not_detected", run.stdout)
        XCTAssertEqual(report["format"] as? String, "chaos-toolkit")
        XCTAssertEqual(report["reverted"] as? Bool, true)
        XCTAssertFalse(lab.exists("sandbox/undetected-fault"))
    }

    func testTheExampleCampaignHealsAndRevertsEveryFault() throws {
        let lab = try lab()
        let run = try lab.medic(["chaos", "campaign", ".", "--approved-by", "ci", "--control-period", "2s", "--json"], timeout: 290)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        let summary = try Medic.json(run.stdout)
        XCTAssertEqual(summary["passed"] as? Bool, true, run.stdout)
        XCTAssertEqual(try shapeProblems(summary, "chaos-campaign"), [])
        let experiments = try XCTUnwrap(summary["experiments"] as? [[String: Any]])
        for experiment in experiments { XCTAssertEqual(try shapeProblems(experiment, "chaos-report"), []) }
        XCTAssertEqual(experiments.count, 6)
        for experiment in experiments {
            XCTAssertEqual(experiment["outcome"] as? String, "healed", "\(experiment)")
            XCTAssertEqual(experiment["reverted"] as? Bool, true, "\(experiment)")
        }
        let faults = try XCTUnwrap(summary["faults"] as? [[String: Any]])
        XCTAssertEqual(Set(faults.compactMap { $0["fault_type"] as? String }),
                       ["service-killed", "latency", "memory-leak", "disk-filling", "cpu-hog", "dependency-errors"])
        XCTAssertTrue(faults.allSatisfy { $0["mttd"] as? Double != nil && $0["mttr"] as? Double != nil }, "\(faults)")

        // The campaign was recorded, and the report pages show it with its figures.
        let report = try lab.medic(["report", "daily", "--out", lab.path("reports")])
        XCTAssertEqual(report.status, 0, report.stderr)
        let htmlPath = try XCTUnwrap(report.stdout.split(separator: "\n").map(String.init).first { $0.hasSuffix(".html") })
        let html = try String(contentsOfFile: htmlPath, encoding: .utf8)
        XCTAssertTrue(html.contains("<h2>Chaos campaign</h2>"), html)
        for fault in faults {
            let type = try XCTUnwrap(fault["fault_type"] as? String)
            let mttd = ChaosCampaignReportTests.duration(try XCTUnwrap(fault["mttd"] as? Double))
            XCTAssertTrue(html.contains("<tr><td>\(type)</td><td class=\"num\">1</td><td class=\"num\">1</td><td class=\"num\">1</td>"
                                        + "<td class=\"num\">1</td><td class=\"num\">\(mttd)</td>"), "\(type) \(mttd)")
            XCTAssertTrue(html.contains("<title>MTTD \(type): \(mttd)</title>"), "the chart's bar for \(type)")
        }
        XCTAssertTrue(html.contains("<tr class=\"met\"><td>auto_remediation_success_rate</td><td class=\"num\">100.0%</td>"), html)
    }
}
