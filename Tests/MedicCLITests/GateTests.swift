import Foundation
import XCTest

/// Each safety gate through the binary: a run it passes, a run it stops (before any step, as the
/// journal and the side effects show), and state that outlives the process.
final class GateTests: XCTestCase {
    private static let actions = """
        actions:
          touch_file:
            type: infrastructure
            risk_level: low
            parameters: {path: required}
            implementation: touch "${path}"
          risky_touch:
            type: infrastructure
            risk_level: high
            parameters: {path: required}
            implementation: touch "${path}"
          maintenance_touch:
            type: infrastructure
            risk_level: low
            maintenance_only: true
            parameters: {path: required}
            implementation: touch "${path}"
          touch_then_die:
            type: infrastructure
            risk_level: low
            parameters: {path: required}
            implementation: |
              touch "${path}"
              if [ -e "${path}.kill" ]; then
                rm -f "${path}.kill"; kill -KILL "$PPID"
                n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done
              fi
          hold:
            type: infrastructure
            risk_level: low
            parameters: {path: required}
            description: Writes its shell's pid to path, then holds its target until path.release exists (at most 120 s).
            implementation: |
              echo "$$" > "${path}"
              n=0; while [ ! -e "${path}.release" ] && [ $n -lt 1200 ]; do sleep 0.1; n=$((n+1)); done
        """

    private static func playbook(_ id: String, severity: String = "SEV2", action: String = "touch_file", extra: String = "",
                                 targets: String = "[web-01]") -> String {
        """
        playbook_id: \(id)
        name: \(id)
        version: 1.0.0
        category: infrastructure
        severity: \(severity)
        parameters:
          path: {type: string, required: true}
        targets: \(targets)
        remediation_steps:
          - {step: 1, name: act, action: \(action)}
        \(extra)
        metadata: {}
        """
    }

    private static let policies = """
        severity_levels:
          SEV0_CRITICAL:
            auto_remediation: limited
            allowed_actions: [touch_file]
          SEV1_HIGH:
            auto_remediation: disabled
          SEV2_MEDIUM:
            auto_remediation: enabled
        rate_limits:
          twice_an_hour:
            scope: playbook
            match: limited-*
            max_runs: 2
            window: 1h
        blast_radius_levels:
          single_instance:
            auto_remediation: always_allowed
          single_service:
            auto_remediation: allowed_with_approval
            approval_required_if:
              - severity < SEV1
              - service_is_critical: true
              - instances > 10
          multiple_services:
            auto_remediation: restricted
            approval_required: true
          cluster_wide:
            auto_remediation: disabled
            approval_required: true
            require_sign_off: [sre_lead, engineering_manager]
          multi_region:
            auto_remediation: disabled
            approval_required: true
            require_sign_off: [cto, vp_engineering]
        """

    private struct Workspace {
        var dir: URL
        var state: String { dir.appendingPathComponent("state").path }
        func marker(_ name: String) -> String { dir.appendingPathComponent(name).path }
        func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: marker(name)) }

        func run(_ playbook: String, marker name: String, _ extra: [String] = []) throws -> MedicRun {
            try Medic.run(["run", playbook, "--root", dir.path, "--state-dir", state, "--param", "path=\(marker(name))", "--json"] + extra, in: dir)
        }

        func medic(_ arguments: [String]) throws -> MedicRun { try Medic.run(arguments + ["--state-dir", state], in: dir) }
    }

    private func workspace() throws -> Workspace {
        let dir = try Medic.temporaryDirectory(self)
        for folder in ["actions", "playbooks", "policies"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try Self.policies.write(to: dir.appendingPathComponent("policies/severity.yaml"), atomically: true, encoding: .utf8)
        let playbooks = [
            Self.playbook("plain-001"), Self.playbook("sev0-ok-001", severity: "SEV0"),
            Self.playbook("sev0-risky-001", severity: "SEV0", action: "risky_touch"), Self.playbook("sev1-001", severity: "SEV1"),
            Self.playbook("approve-001", extra: "safety: {require_approval: true}"), Self.playbook("hold-001", action: "hold"),
            Self.playbook("pre-001", extra: """
                pre_conditions:
                  - check: writable_filesystem
                  - check: command_available
                    expected: [touch, sh]
                  - 'queue_depth{queue="jobs"} < 100'
                """),
            Self.playbook("service-sev0-001", severity: "SEV0", targets: "[{name: w1, labels: {service: web}}, {name: w2, labels: {service: web}}]"),
            Self.playbook("service-sev2-001", targets: "[{name: w1, labels: {service: web}}, {name: w2, labels: {service: web}}]"),
            Self.playbook("services-001", targets: "[{name: w1, labels: {service: web}}, {name: a1, labels: {service: api}}]"),
            Self.playbook("clusters-001", targets: "[{name: c1, labels: {cluster: east}}, {name: c2, labels: {cluster: west}}]"),
            Self.playbook("regions-001", targets: "[{name: r1, labels: {region: eu}}, {name: r2, labels: {region: us}}]"),
            Self.playbook("approve-die-001", action: "touch_then_die", extra: "safety: {require_approval: true}"),
            Self.playbook("limited-001"), Self.playbook("limited-002"), Self.playbook("window-001", action: "maintenance_touch"),
            Self.playbook("pre-missing-001", extra: "pre_conditions:\n  - {check: command_available, expected: no-such-tool-xyz}"),
            Self.playbook("limited-pre-001", extra: "pre_conditions:\n  - 'queue_depth{queue=\"jobs\"} < 100'"),
        ]
        try #"{"queue_depth{queue=\"jobs\"}": 12}"#.write(to: dir.appendingPathComponent("metrics.json"), atomically: true, encoding: .utf8)
        try "metric_sources:\n  - {name: demo, type: file, path: metrics.json, metrics: [queue_depth]}\n"
            .write(to: dir.appendingPathComponent("metrics.yaml"), atomically: true, encoding: .utf8)
        for (index, text) in playbooks.enumerated() {
            try text.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        return Workspace(dir: dir)
    }

    /// A succeeded manual run of each playbook, so automated runs of them are not a new incident type (safe mode).
    private func seedHistory(_ ws: Workspace, _ playbooks: String...) throws {
        for playbook in playbooks {
            let run = try ws.run(playbook, marker: "seed-\(playbook)")
            XCTAssertEqual(run.status, 0, "seeding \(playbook): \(run.stdout)")
        }
    }

    /// The gates in the order docs/running.md ("Safety gates") gives and every run journals them.
    static let gateOrder = ["kill_switch", "severity_policy", "blast_radius", "safe_mode", "breaker", "rate_limit",
                            "maintenance_window", "approval", "preconditions", "target_lock"]

    /// The outcome, the first gate verdict that is not a pass, and whether any step started. On
    /// the way it checks what every run promises: the gates were journaled in their order, and a
    /// refused run alerted operators with one `dev.medic.run.refused` event naming the gate that
    /// stopped it (the first refusal, else the first deferral), its decision and its reason.
    private func refusal(_ result: MedicRun, file: StaticString = #filePath, line: UInt = #line) throws -> (String?, [String: Any]?, Bool) {
        let report = try Medic.json(result.stdout)
        let journal = try XCTUnwrap(report["journal"] as? String, file: file, line: line)
        let records = try RunEvidence.lines(journal, file: file, line: line)
        let gates = try RunEvidence.gates(records, file: file, line: line)
        XCTAssertEqual(gates.map { $0["gate"] as? String ?? "?" }, Self.gateOrder, "the gates' order", file: file, line: line)
        let blocking = gates.first { $0["decision"] as? String != "pass" }
        let outcome = report["outcome"] as? String

        let runID = try XCTUnwrap(report["run_id"] as? String, file: file, line: line)
        let state = URL(fileURLWithPath: journal).deletingLastPathComponent().deletingLastPathComponent().path
        let events = try RunEvidence.refusals(inState: state, runID: runID)
        if outcome == "refused" {
            let stopping = try XCTUnwrap(gates.first { $0["decision"] as? String == "refuse" } ?? gates.first { $0["decision"] as? String == "defer" },
                                         "a refused run has a refusing or deferring gate", file: file, line: line)
            XCTAssertEqual(events.count, 1, "one refusal event for run \(runID)", file: file, line: line)
            let event = events.first ?? [:]
            XCTAssertEqual(event["gate"] as? String, stopping["gate"] as? String, file: file, line: line)
            XCTAssertEqual(event["decision"] as? String, stopping["decision"] as? String, file: file, line: line)
            XCTAssertEqual(event["playbook_id"] as? String, report["playbook_id"] as? String, file: file, line: line)
            let reason = try XCTUnwrap(stopping["reason"] as? String, file: file, line: line)
            XCTAssertTrue((event["reason"] as? String)?.hasPrefix("\(stopping["gate"] as? String ?? "?"): \(reason)") == true,
                          "the event carries the verdict's reason: \(event)", file: file, line: line)
        } else {
            XCTAssertEqual(events.count, 0, "no refusal event for a run that was not refused", file: file, line: line)
        }
        return (outcome, blocking, records.contains { $0["event"] as? String == "step_started" && $0["phase"] as? String == "step" })
    }

    func testTheKillSwitchRefusesUntilLiftedAndAPersonMayForceIt() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.medic(["pause", "--by", "alice", "--reason", "db incident"]).status, 0)
        for mode in ["manual", "automated"] {
            let refused = try ws.run("plain-001", marker: "m-\(mode)", ["--mode", mode])
            XCTAssertEqual(refused.status, 1)
            let (outcome, blocking, started) = try refusal(refused)
            XCTAssertEqual(outcome, "refused")
            XCTAssertEqual(blocking?["gate"] as? String, "kill_switch")
            XCTAssertTrue((blocking?["reason"] as? String)?.contains("paused (by alice") == true)
            XCTAssertFalse(started, "no step started")
            XCTAssertFalse(ws.exists("m-\(mode)"))
        }
        // Each refusal alerted operators on the bus (the default outbox).
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(outbox.filter { $0.contains(#""type":"dev.medic.run.refused""#) && $0.contains(#""gate":"kill_switch""#) }.count, 2)
        let plan = try Medic.run(["plan", "plain-001", "--root", ws.dir.path, "--state-dir", ws.state, "--param", "path=x"], in: ws.dir)
        XCTAssertTrue(plan.stdout.contains("kill_switch: refuse"), plan.stdout)
        XCTAssertTrue(plan.stdout.contains("A run now would stop at the kill_switch gate"), plan.stdout)

        let forced = try ws.run("plain-001", marker: "forced", ["--force"])
        XCTAssertEqual(forced.status, 0, forced.stdout)
        XCTAssertTrue(ws.exists("forced"))
        XCTAssertEqual(try ws.run("plain-001", marker: "x", ["--mode", "automated", "--force"]).status, 2, "--force is for people")

        XCTAssertEqual(try ws.medic(["resume-all", "--by", "bob"]).status, 0)
        XCTAssertEqual(try ws.run("plain-001", marker: "after", ["--mode", "automated"]).status, 0)
        let audit = try String(contentsOfFile: ws.state + "/audit.jsonl", encoding: .utf8)
        XCTAssertTrue(audit.contains(#""by":"alice","event":"paused","reason":"db incident""#), audit)
        XCTAssertTrue(audit.contains(#""by":"bob","event":"resumed""#), audit)
    }

    func testTheSeverityPolicyGovernsAutomatedRuns() throws {
        let ws = try workspace()
        try seedHistory(ws, "sev0-ok-001", "plain-001")
        // SEV1: auto_remediation disabled.
        var (outcome, blocking, started) = try refusal(try ws.run("sev1-001", marker: "a", ["--mode", "automated"]))
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "severity_policy")
        XCTAssertTrue((blocking?["reason"] as? String)?.contains("auto_remediation disabled") == true)
        XCTAssertFalse(started)
        XCTAssertEqual(try ws.run("sev1-001", marker: "b").status, 0, "a person may run it")
        // SEV0: limited to listed low-risk actions.
        XCTAssertEqual(try ws.run("sev0-ok-001", marker: "c", ["--mode", "automated"]).status, 0)
        (outcome, blocking, started) = try refusal(try ws.run("sev0-risky-001", marker: "d", ["--mode", "automated", "--approved-by", "x"]))
        XCTAssertEqual(blocking?["gate"] as? String, "severity_policy")
        XCTAssertTrue((blocking?["reason"] as? String)?.contains("step 1 (risky_touch, risk high, not listed)") == true, "\(blocking ?? [:])")
        XCTAssertFalse(started)
        XCTAssertEqual(try ws.run("plain-001", marker: "e", ["--mode", "automated"]).status, 0, "SEV2: enabled")
        XCTAssertEqual(["a", "d"].filter(ws.exists), [])
    }

    func testWhenSeveralGatesStopARunTheFirstRefusalInOrderIsTheOneReported() throws {
        let ws = try workspace()
        // Paused, and SEV1 automation is disabled: both refuse; the kill switch comes first.
        XCTAssertEqual(try ws.medic(["pause", "--by", "alice"]).status, 0)
        var (outcome, blocking, started) = try refusal(try ws.run("sev1-001", marker: "a", ["--mode", "automated"]))
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "kill_switch")
        XCTAssertFalse(started)
        XCTAssertEqual(try ws.medic(["resume-all", "--by", "alice"]).status, 0)
        // The rate limit defers and, later in the order, the preconditions refuse: the refusal stops it.
        XCTAssertEqual(try ws.run("limited-pre-001", marker: "1").status, 0)
        XCTAssertEqual(try ws.run("limited-pre-001", marker: "2").status, 0)
        try #"{"queue_depth{queue=\"jobs\"}": 250}"#.write(to: ws.dir.appendingPathComponent("metrics.json"), atomically: true, encoding: .utf8)
        let both = try ws.run("limited-pre-001", marker: "3")
        (outcome, blocking, started) = try refusal(both)
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "rate_limit", "the first verdict that is not a pass")
        XCTAssertEqual(blocking?["decision"] as? String, "defer")
        let runID = try XCTUnwrap(try Medic.json(both.stdout)["run_id"] as? String)
        XCTAssertEqual(try RunEvidence.refusals(inState: ws.state, runID: runID).first?["gate"] as? String, "preconditions",
                       "a refusal outranks an earlier deferral")
        XCTAssertFalse(started)
        XCTAssertEqual(["a", "3"].filter(ws.exists), [])
    }

    func testHighRiskStepsAndRequireApprovalWaitForApproval() throws {
        let ws = try workspace()
        for playbook in ["approve-001", "sev0-risky-001"] {
            let pending = try ws.run(playbook, marker: "m")
            XCTAssertEqual(pending.status, 1, "not run (yet)")
            let (outcome, blocking, started) = try refusal(pending)
            XCTAssertNil(outcome, playbook)
            XCTAssertEqual(blocking?["gate"] as? String, "approval")
            XCTAssertEqual(blocking?["decision"] as? String, "needs_approval")
            XCTAssertEqual(try Medic.json(pending.stdout)["status"] as? String, "pending_approval")
            XCTAssertFalse(started)
        }
        XCTAssertFalse(ws.exists("m"))
        let approved = try ws.run("approve-001", marker: "ok", ["--approved-by", "carol"])
        XCTAssertEqual(approved.status, 0, approved.stdout)
        XCTAssertTrue(ws.exists("ok"))
    }

    func testApproveStartsAWaitingRunAndDenyEndsOne() throws {
        let ws = try workspace()
        let pending = try Medic.json(try ws.run("approve-001", marker: "approved").stdout)
        let id = try XCTUnwrap(pending["run_id"] as? String)
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)
        XCTAssertTrue(outbox.contains("dev.medic.run.approval_requested"), "operators are asked on the bus")
        XCTAssertEqual(try ws.medic(["resume", id]).status, 1, "resume does not skip the approval")
        XCTAssertFalse(ws.exists("approved"))
        let approve = try ws.medic(["approve", id, "--by", "carol", "--reason", "looked fine", "--root", ws.dir.path])
        XCTAssertEqual(approve.status, 0, approve.stdout + approve.stderr)
        XCTAssertTrue(approve.stdout.contains("approved by carol: looked fine"), approve.stdout)
        XCTAssertTrue(ws.exists("approved"), "the run went on once approved")

        let denied = try XCTUnwrap(try Medic.json(try ws.run("approve-001", marker: "denied").stdout)["run_id"] as? String)
        XCTAssertEqual(try ws.medic(["deny", denied, "--by", "dan", "--reason", "not today"]).status, 0)
        XCTAssertFalse(ws.exists("denied"))
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try ws.medic(["runs", "--json"]).stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.first { $0["id"] as? String == denied }?["outcome"] as? String, "refused")
        XCTAssertEqual(try ws.medic(["approve", denied, "--by", "eve", "--root", ws.dir.path]).status, 1, "a decided run is not pending")
        let audit = try String(contentsOfFile: ws.state + "/audit.jsonl", encoding: .utf8)
        XCTAssertTrue(audit.contains(#""by":"carol","event":"approved""#), audit)
        XCTAssertTrue(audit.contains(#""by":"dan","event":"denied""#), audit)
    }

    func testAnApprovedRunWhoseMedicIsKilledIsInterruptedAndResumable() throws {
        let ws = try workspace()
        let id = try XCTUnwrap(try Medic.json(try ws.run("approve-die-001", marker: "d").stdout)["run_id"] as? String)
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.marker("d") + ".kill", contents: nil))
        XCTAssertEqual(try ws.medic(["approve", id, "--by", "carol", "--root", ws.dir.path]).status, 9, "killed by its step")
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("\(id)  interrupted"), "admitted, then killed: not pending any more")
        let resumed = try ws.medic(["resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
    }

    func testEveryRequiredSignOffIsCollectedBeforeTheRunStarts() throws {
        let ws = try workspace()
        let id = try XCTUnwrap(try Medic.json(try ws.run("clusters-001", marker: "signed").stdout)["run_id"] as? String)
        let first = try ws.medic(["approve", id, "--by", "erin", "--role", "sre_lead", "--root", ws.dir.path])
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertTrue(first.stdout.contains("Still waiting for approval"), first.stdout)
        XCTAssertFalse(ws.exists("signed"))
        let second = try ws.medic(["approve", id, "--by", "finn", "--role", "engineering_manager", "--root", ws.dir.path])
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        XCTAssertTrue(ws.exists("signed"), "both sign-offs in: the run went on")
    }

    func testAnExpiredRequestForApprovalEndsTheRun() throws {
        let ws = try workspace()
        let id = try XCTUnwrap(try Medic.json(try ws.run("approve-001", marker: "late", ["--approval-ttl", "0.2"]).stdout)["run_id"] as? String)
        usleep(500_000)
        let late = try ws.medic(["approve", id, "--by", "carol", "--root", ws.dir.path, "--json"])
        XCTAssertEqual(late.status, 1)
        XCTAssertTrue((try Medic.json(late.stdout)["message"] as? String)?.contains("the approval request expired") == true, late.stdout)
        XCTAssertFalse(ws.exists("late"))
    }

    func testPreconditionsMustHoldBeforeTheFirstStep() throws {
        let ws = try workspace()
        let passed = try ws.run("pre-001", marker: "ok")
        XCTAssertEqual(passed.status, 0, passed.stdout + passed.stderr)
        XCTAssertTrue(ws.exists("ok"))
        // The queue grows past the bound: the condition no longer holds.
        try #"{"queue_depth{queue=\"jobs\"}": 250}"#.write(to: ws.dir.appendingPathComponent("metrics.json"), atomically: true, encoding: .utf8)
        var (outcome, blocking, started) = try refusal(try ws.run("pre-001", marker: "no"))
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "preconditions")
        XCTAssertTrue((blocking?["reason"] as? String)?.contains(#"does not hold (queue_depth{queue="jobs"}=250)"#) == true, "\(blocking ?? [:])")
        XCTAssertFalse(started)
        (outcome, blocking, started) = try refusal(try ws.run("pre-missing-001", marker: "no"))
        XCTAssertTrue((blocking?["reason"] as? String)?.contains("check command_available failed: not found on PATH: no-such-tool-xyz") == true,
                      "\(blocking ?? [:])")
        XCTAssertFalse(started)
        XCTAssertFalse(ws.exists("no"))
    }

    func testTheBlastRadiusPolicyOfTheRunsReach() throws {
        let ws = try workspace()
        func blocking(_ playbook: String, _ extra: [String]) throws -> [String: Any]? {
            let result = try ws.run(playbook, marker: "br", extra)
            let (outcome, verdict, started) = try refusal(result)
            XCTAssertEqual(outcome == "succeeded", verdict == nil, "\(playbook): \(result.stdout)")
            XCTAssertEqual(started, verdict == nil, playbook)
            return verdict
        }
        let automated = ["--mode", "automated"]
        try seedHistory(ws, "plain-001", "service-sev0-001", "service-sev2-001")
        // One instance: always allowed. Two instances of one service: approval only under approval_required_if.
        XCTAssertNil(try blocking("plain-001", automated))
        XCTAssertNil(try blocking("service-sev0-001", automated), "SEV0 is not below SEV1; 2 instances, not critical")
        let sev2 = try blocking("service-sev2-001", automated)
        XCTAssertEqual(sev2?["gate"] as? String, "blast_radius")
        XCTAssertEqual(sev2?["decision"] as? String, "needs_approval")
        XCTAssertTrue((sev2?["reason"] as? String)?.hasPrefix("single_service (2 instance(s), 1 service(s)") == true, "\(sev2 ?? [:])")
        XCTAssertTrue((sev2?["reason"] as? String)?.contains("approval_required_if: severity < SEV1") == true)
        XCTAssertNil(try blocking("service-sev2-001", automated + ["--approved-by", "dana"]))
        XCTAssertNil(try blocking("service-sev2-001", []), "a person's run of a single service needs no approval")
        // Two services: restricted, approval required, for a person too.
        XCTAssertEqual(try blocking("services-001", [])?["decision"] as? String, "needs_approval")
        XCTAssertNil(try blocking("services-001", ["--approved-by", "dana"]))
        // Two clusters: no automation; a person needs both sign-offs.
        XCTAssertEqual(try blocking("clusters-001", automated + ["--approved-by", "dana"])?["decision"] as? String, "refuse")
        let unsigned = try blocking("clusters-001", ["--approved-by", "dana", "--sign-off", "sre_lead=erin"])
        XCTAssertEqual(unsigned?["needs"] as? [String], ["sign-off of engineering_manager: --sign-off engineering_manager=NAME"])
        XCTAssertNil(try blocking("clusters-001", ["--approved-by", "dana", "--sign-off", "sre_lead=erin", "--sign-off", "engineering_manager=finn"]))
        XCTAssertTrue((try blocking("regions-001", automated)?["reason"] as? String)?.hasPrefix("multi_region") == true)
    }

    func testSafeModeForNewIncidentTypesAndWhenSwitchedOn() throws {
        let ws = try workspace()
        let automated = ["--mode", "automated"]
        // Never succeeded here: an automated run is a new incident type.
        var (_, verdict, started) = try refusal(try ws.run("plain-001", marker: "a", automated))
        XCTAssertEqual(verdict?["gate"] as? String, "safe_mode")
        XCTAssertEqual(verdict?["decision"] as? String, "needs_approval")
        XCTAssertTrue((verdict?["reason"] as? String)?.contains("a new incident type") == true)
        XCTAssertFalse(started)
        (_, verdict, _) = try refusal(try ws.run("service-sev0-001", marker: "b", automated))
        XCTAssertEqual(verdict?["decision"] as? String, "refuse", "two instances: more than safe mode allows")
        XCTAssertEqual(try ws.run("plain-001", marker: "c", automated + ["--approved-by", "gus"]).status, 0)
        XCTAssertEqual(try ws.run("plain-001", marker: "d", automated).status, 0, "it has succeeded here now")
        // Switched on: a person's run too.
        XCTAssertEqual(try ws.medic(["safe-mode", "on", "--by", "hana", "--reason", "unknown root cause"]).status, 0)
        (_, verdict, _) = try refusal(try ws.run("plain-001", marker: "e"))
        XCTAssertTrue((verdict?["reason"] as? String)?.contains("safe mode is on (by hana") == true, "\(verdict ?? [:])")
        XCTAssertEqual(try ws.medic(["safe-mode", "off", "--by", "hana"]).status, 0)
        XCTAssertEqual(try ws.run("plain-001", marker: "f").status, 0)
        XCTAssertEqual(["a", "b", "e"].filter(ws.exists), [])
        let audit = try String(contentsOfFile: ws.state + "/audit.jsonl", encoding: .utf8)
        XCTAssertTrue(audit.contains(#""event":"safe_mode_on""#) && audit.contains(#""event":"safe_mode_off""#), audit)
    }

    func testMaintenanceOnlyStepsWaitForAMaintenanceWindow() throws {
        let ws = try workspace()
        let refused = try refusal(try ws.run("window-001", marker: "none"))
        XCTAssertEqual(refused.1?["gate"] as? String, "maintenance_window")
        XCTAssertTrue((refused.1?["reason"] as? String)?.contains("no maintenance window is defined") == true)
        // A window that opens in three hours (UTC), every day: the run is deferred until then.
        func hhmm(_ date: Date) -> String {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: "UTC")!
            let parts = calendar.dateComponents([.hour, .minute], from: date)
            return String(format: "%02d:%02d", parts.hour!, parts.minute!)
        }
        let windows = ws.dir.appendingPathComponent("policies/windows.yaml")
        try "maintenance_windows:\n  later:\n    start: \"\(hhmm(Date().addingTimeInterval(3 * 3600)))\"\n    duration: 1h\n"
            .write(to: windows, atomically: true, encoding: .utf8)
        let (outcome, deferred, started) = try refusal(try ws.run("window-001", marker: "later"))
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(deferred?["decision"] as? String, "defer")
        XCTAssertNotNil(deferred?["until"] as? String)
        XCTAssertFalse(started)
        let plan = try Medic.run(["plan", "window-001", "--root", ws.dir.path, "--state-dir", ws.state, "--param", "path=x"], in: ws.dir)
        XCTAssertTrue(plan.stdout.contains("maintenance_window: defer"), plan.stdout)
        // A window open now: the step runs.
        try "maintenance_windows:\n  now:\n    start: \"\(hhmm(Date().addingTimeInterval(-3600)))\"\n    duration: 3h\n"
            .write(to: windows, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ws.run("window-001", marker: "now").status, 0)
        XCTAssertEqual(["none", "later"].filter(ws.exists), [])
        XCTAssertTrue(ws.exists("now"))
    }

    func testRateLimitsDeferTheRunThatWouldExceedThem() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.run("limited-001", marker: "1").status, 0)
        XCTAssertEqual(try ws.run("limited-001", marker: "2").status, 0)
        let (outcome, blocking, started) = try refusal(try ws.run("limited-001", marker: "3"))
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "rate_limit")
        XCTAssertEqual(blocking?["decision"] as? String, "defer")
        XCTAssertTrue((blocking?["reason"] as? String)?.contains("rate limit 'twice_an_hour': 2 run(s) of playbook limited-001 in the last 1h") == true,
                      "\(blocking ?? [:])")
        XCTAssertNotNil(blocking?["until"] as? String)
        XCTAssertFalse(started)
        XCTAssertFalse(ws.exists("3"))
        // Each playbook the limit matches has its own count; refused runs do not count.
        XCTAssertEqual(try ws.run("limited-002", marker: "4").status, 0)
        XCTAssertEqual(try ws.run("plain-001", marker: "5").status, 0, "not matched by limited-*")
    }

    /// Starts a run that holds target web-01 until `release()`, and returns once its step has
    /// started (failing the test if it never does): the step's shell pid and the process.
    private func holdWeb01(_ ws: Workspace) throws -> (step: Int32, process: Process) {
        let first = Process()
        first.executableURL = Medic.binary
        first.arguments = ["run", "hold-001", "--root", ws.dir.path, "--state-dir", ws.state, "--param", "path=\(ws.marker("first"))"]
        first.currentDirectoryURL = ws.dir
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        // Whatever happens, the step stops holding when the test ends.
        addTeardownBlock { _ = FileManager.default.createFile(atPath: ws.marker("first.release"), contents: nil) }
        let pid = try poll("the first run's step started") {
            (try? String(contentsOfFile: ws.marker("first"), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return (pid, first)
    }

    private func release(_ ws: Workspace) {
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.marker("first.release"), contents: nil))
    }

    /// Polls `probe` every 25 ms until it gives a value, for at most 60 s (a bound for a slow
    /// machine, never a timing assertion); fails the test with `what` if it never does.
    private func poll<T>(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ probe: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let value = try probe() { return value }
            usleep(25_000)
        }
        XCTFail("timed out waiting until \(what)", file: file, line: line)
        throw CocoaError(.executableLoad)
    }

    func testTwoProcessesNeverRemediateOneTargetAtOnce() throws {
        let ws = try workspace()
        // The first run holds web-01 until released; a second one started meanwhile is refused.
        let (_, first) = try holdWeb01(ws)

        let second = try ws.run("plain-001", marker: "second")
        XCTAssertEqual(second.status, 1)
        let (outcome, blocking, started) = try refusal(second)
        XCTAssertEqual(outcome, "refused")
        XCTAssertEqual(blocking?["gate"] as? String, "target_lock")
        XCTAssertTrue((blocking?["reason"] as? String)?.contains("target web-01 is being remediated by run") == true, "\(blocking ?? [:])")
        XCTAssertFalse(started)
        XCTAssertFalse(ws.exists("second"))

        // With --lock-wait the next run waits for the lock, then goes on. It is seen waiting (its
        // gates found web-01 held) before the first run lets go, and its step runs only after.
        let waiting = Process()
        waiting.executableURL = Medic.binary
        waiting.arguments = ["run", "plain-001", "--root", ws.dir.path, "--state-dir", ws.state, "--param", "path=\(ws.marker("third"))",
                             "--lock-wait", "120"]
        waiting.currentDirectoryURL = ws.dir
        waiting.standardOutput = FileHandle.nullDevice
        waiting.standardError = FileHandle.nullDevice
        try waiting.run()
        _ = try poll("the waiting run's gates found web-01 held") { () -> Bool? in
            let runs = ws.state + "/runs"
            let journals = try FileManager.default.contentsOfDirectory(atPath: runs).filter { $0.hasSuffix(".jsonl") }
            return try journals.contains { name in
                try String(contentsOfFile: runs + "/" + name, encoding: .utf8).contains("the run waits up to 120s for it")
            } ? true : nil
        }
        XCTAssertFalse(ws.exists("third"), "the waiting run's step did not start while web-01 was held")
        release(ws)
        first.waitUntilExit()
        waiting.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertEqual(waiting.terminationStatus, 0)
        XCTAssertTrue(ws.exists("third"))
    }

    func testADeadRunsLockIsTakenOver() throws {
        let ws = try workspace()
        let (step, first) = try holdWeb01(ws)
        kill(first.processIdentifier, SIGKILL)
        // The dead run's step lives on in its own session; let it end, so that only the lock is
        // left (Foundation's wait for the killed Medic also lasts until the step lets go of the
        // descriptors it inherited).
        release(ws)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationReason, .uncaughtSignal)
        _ = try poll("the dead run's step ended") { () -> Bool? in
            // Gone, or a zombie (ended, not yet reaped by whoever adopted it).
            guard let stat = try? String(contentsOfFile: "/proc/\(step)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return true }
            return stat[stat.index(after: close)...].split(separator: " ").first == "Z" ? true : nil
        }
        let next = try ws.run("plain-001", marker: "next")
        XCTAssertEqual(next.status, 0, "the kernel freed the dead run's lock: \(next.stdout)")
    }
}
