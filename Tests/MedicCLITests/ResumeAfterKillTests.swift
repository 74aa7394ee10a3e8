import Foundation
import XCTest

/// What `medic resume` does after the Medic running a run was SIGKILLed at a chosen moment:
/// the steps that Medic left running, a resume killed while checking the step in flight, an
/// interrupted escalation and verification. Real processes, real kills.
final class ResumeAfterKillTests: XCTestCase {
    /// `kill_medic`: kills the Medic that runs it (its parent) when `${dir}/kill-<tag>` exists,
    /// and waits until Medic is gone, so that Medic never sees it end.
    private static let killer = #"if [ -e "${dir}/kill-${tag}" ]; then rm -f "${dir}/kill-${tag}"; kill -KILL "$PPID"; n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; fi"#

    private static let actions = """
        actions:
          record:
            type: infrastructure
            risk_level: low
            parameters: {tag: required, log: required, dir: required}
            implementation: echo "${tag}" >> "${log}"
          slow_guarded:
            type: infrastructure
            risk_level: low
            description: Takes a lock while it runs; a second copy alive at once writes 'overlap'.
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              exec 9>>"${dir}/lock-${tag}"
              flock -n 9 || echo overlap >> "${log}"
              echo "$$" > "${dir}/pid-${tag}"
              sleep 2
              echo "${tag}" >> "${log}"
          hang:
            type: infrastructure
            risk_level: low
            description: Never ends by itself; one child leaves Medic's variables behind (env -i).
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              sleep 600 &
              echo "$!" > "${dir}/pid-child"
              env -i /bin/sleep 600 &
              echo "$!" > "${dir}/pid-bare"
              echo "$$" > "${dir}/pid-${tag}"
              wait
          append_checked:
            type: infrastructure
            risk_level: medium
            idempotent: false
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              echo "${tag}" >> "${log}"
              \(killer)
            verification: |
              tag="${tag}-check"
              \(killer)
              grep -qx "${tag%-check}" "${log}"
          fail:
            type: infrastructure
            risk_level: low
            implementation: exit 3
        """

    private static let playbooks = """
        playbook_id: slow-001
        name: A slow middle step
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: one, action: record, tag: one}
          - {step: 2, name: two, action: slow_guarded, tag: two}
          - {step: 3, name: three, action: record, tag: three}
        metadata: {}
        ---
        playbook_id: hang-001
        name: A step that outlives its timeout
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: hang, action: hang, tag: hang, timeout: 2s}
        metadata: {}
        ---
        playbook_id: checked-001
        name: A step that is not idempotent, with a check
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: once, action: append_checked, tag: once}
          - {step: 2, name: after, action: record, tag: after}
        metadata: {}
        ---
        playbook_id: verified-001
        name: One step, then a check of a metric
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: one, action: record, tag: one}
        verification: {check: 'probe == 1'}
        metadata: {}
        ---
        playbook_id: escalating-001
        name: Fails and escalates
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: burn, action: fail}
        escalation: {on_failure: true, notify: [oncall]}
        metadata: {}
        """

    private typealias Workspace = LibraryWorkspace

    private func workspace() throws -> Workspace {
        try LibraryWorkspace(self, actions: Self.actions, playbooks: Self.playbooks)
    }

    func testResumeWaitsForTheStepAKilledMedicLeftRunningBeforeRunningItAgain() throws {
        let ws = try workspace()
        try ws.runAndKill("slow-001", atStep: 2) { FileManager.default.fileExists(atPath: ws.dir.path + "/pid-two") }
        let shell = try ws.pid("two")
        XCTAssertTrue(ProcessTable.isAlive(shell), "the killed Medic's step goes on by itself")
        let before = try ws.medic(["show", try ws.onlyRun()])
        XCTAssertTrue(before.stdout.contains("still running from the killed Medic") && before.stdout.contains("pid \(shell)"), before.stdout)

        let resumed = try ws.medic(["resume", try ws.onlyRun(), "--yes"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertFalse(ws.effects.contains("overlap"), "two copies of step 2 ran at once: \(ws.effects)")
        // Step 2 is idempotent, so it runs again, but only after the first copy ended.
        XCTAssertEqual(ws.effects, ["one", "two", "two", "three"])
        XCTAssertTrue(resumed.stdout.contains("the earlier attempt left"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("ended by themselves") || resumed.stdout.contains("ended by itself"), resumed.stdout)

        let events = try ws.events(try ws.onlyRun()).compactMap { $0["event"] as? String }
        let found = try XCTUnwrap(events.firstIndex(of: "orphans_found"))
        XCTAssertEqual(events[found + 1], "orphans_ended")
        XCTAssertLessThan(found, try XCTUnwrap(events.firstIndex(of: "run_resumed")), "found and settled before the decision")
        let shown = try ws.medic(["show", try ws.onlyRun()])
        XCTAssertTrue(shown.stdout.contains("orphans_found") && shown.stdout.contains("step 2, attempt 1"), shown.stdout)
    }

    func testAStepStillRunningAtItsTimeoutIsStoppedBeforeResumeGoesOn() throws {
        let ws = try workspace()
        try ws.runAndKill("hang-001", atStep: 1) { FileManager.default.fileExists(atPath: ws.dir.path + "/pid-hang") }
        let pids = try ["hang", "child", "bare"].map { try ws.pid($0) }
        addTeardownBlock { for pid in pids { kill(pid, SIGKILL) } }
        XCTAssertTrue(pids.allSatisfy(ProcessTable.isAlive))

        let resumed = try ws.medic(["resume", try ws.onlyRun(), "--json"])
        // The step ran again after the old copy was stopped, and timed out again itself.
        XCTAssertEqual(resumed.status, 1, resumed.stdout + resumed.stderr)
        for pid in pids {
            XCTAssertFalse(ProcessTable.isAlive(pid), "process \(pid) of the killed Medic's step is still alive")
        }
        let records = try ws.events(try ws.onlyRun())
        let found = try XCTUnwrap(records.first { $0["event"] as? String == "orphans_found" })
        let foundPIDs = Set(((found["processes"] as? [[String: Any]]) ?? []).compactMap { ($0["pid"] as? NSNumber)?.int32Value })
        // The child that dropped Medic's variables (env -i) is found by its session.
        XCTAssertTrue(Set(pids).isSubset(of: foundPIDs), "found \(foundPIDs), expected \(pids)")
        let ended = try XCTUnwrap(records.first { $0["event"] as? String == "orphans_ended" })
        XCTAssertTrue((ended["message"] as? String)?.contains("SIGTERM") == true, "\(ended)")
    }

    func testAResumeKilledWhileCheckingTheStepInFlightDecidesAgainInsteadOfRunningIt() throws {
        let ws = try workspace()
        ws.arm("once")
        XCTAssertEqual(try ws.medic(["run", "checked-001"] + ws.parameters).status, 9, "step 1 kills Medic after its effect")
        XCTAssertEqual(ws.effects, ["once"])
        let id = try ws.onlyRun()

        // The resume runs step 1's action verification to learn its outcome, and is killed there.
        ws.arm("once-check")
        XCTAssertEqual(try ws.medic(["resume", id]).status, 9)
        XCTAssertEqual(ws.effects, ["once"])

        // The next resume checks again; it never runs the step, which is not idempotent, again.
        let resumed = try ws.medic(["resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.effects, ["once", "after"], "the non-idempotent step ran once")
        XCTAssertTrue(resumed.stdout.contains("verification passed, so it counts as done"), resumed.stdout)
    }

    func testAnInterruptedVerificationRunsAgain() throws {
        let ws = try workspace()
        // The metric's command kills the Medic evaluating it (its parent) while kill-probe exists,
        // and counts its evaluations.
        let metrics = """
            metric_sources:
              - name: probe
                type: command
                metrics: [probe]
                command: |
                  echo x >> evaluations
                  if [ -e kill-probe ]; then rm -f kill-probe; kill -KILL "$PPID"; sleep 5; fi
                  echo 1
            """
        try metrics.write(to: ws.dir.appendingPathComponent("metrics.yaml"), atomically: true, encoding: .utf8)
        ws.arm("probe")
        XCTAssertEqual(try ws.medic(["run", "verified-001"] + ws.parameters).status, 9, "killed during verification")
        let id = try ws.onlyRun()
        let events = try ws.events(id).compactMap { $0["event"] as? String }
        XCTAssertEqual(events.last(where: { $0.hasPrefix("verification") }), "verification_started")

        let resumed = try ws.medic(["resume", id, "--json"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(try Medic.json(resumed.stdout)["outcome"] as? String, "succeeded")
        XCTAssertEqual(ws.effects, ["one"], "the step is not run again")
        let after = try ws.events(id).compactMap { $0["event"] as? String }
        XCTAssertEqual(after.filter { $0 == "verification_started" }.count, 2, "the interrupted verification runs again: \(after)")
        XCTAssertEqual(after.filter { $0 == "verification_finished" }.count, 1)
        let evaluations = try String(contentsOf: ws.dir.appendingPathComponent("evaluations"), encoding: .utf8)
        XCTAssertEqual(evaluations.split(separator: "\n").count, 2, "evaluated once before the kill, once after")
    }

    func testAnInterruptedEscalationPublishesItsEventAgain() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.medic(["run", "escalating-001"]).status, 1)
        let id = try ws.onlyRun()
        // As a kill would leave it: the escalation's intent on disk, the event never published.
        let journal = ws.state + "/runs/\(id).jsonl"
        let lines = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let intent = try XCTUnwrap(lines.firstIndex { $0.contains(#""event":"step_started""#) && $0.contains(#""phase":"escalation""#) })
        try (lines[...intent].joined(separator: "\n") + "\n").write(toFile: journal, atomically: true, encoding: .utf8)
        try "".write(toFile: ws.state + "/outbox.jsonl", atomically: true, encoding: .utf8)

        let resumed = try ws.medic(["resume", id, "--json"])
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
        XCTAssertEqual(try Medic.json(resumed.stdout)["outcome"] as? String, "failed", "a failed run handed to people")
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)
        XCTAssertEqual(outbox.split(separator: "\n").filter { $0.contains("dev.medic.run.escalated") }.count, 1, outbox)
        let escalated = try ws.events(id).filter { $0["event"] as? String == "escalated" }
        XCTAssertEqual(escalated.count, 1, "the escalation is journaled once; only its event is published again")
    }
}

private extension LibraryWorkspace {
    var parameters: [String] { ["--param", "log=\(log)", "--param", "dir=\(dir.path)"] }

    /// The events of the run's journal, in order.
    func events(_ id: String) throws -> [[String: Any]] {
        try String(contentsOfFile: state + "/runs/\(id).jsonl", encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    func pid(_ name: String) throws -> Int32 {
        try XCTUnwrap(Int32((try String(contentsOfFile: dir.appendingPathComponent("pid-\(name)").path, encoding: .utf8))
            .trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Starts `medic run` and SIGKILLs it once the journal says step `step`'s process exists
    /// (and `ready` holds), leaving that step's processes running.
    func runAndKill(_ playbook: String, atStep step: Int, ready: () -> Bool = { true }) throws {
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ["run", playbook, "--state-dir", state, "--root", dir.path] + parameters
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var seen = false
        for _ in 0..<1000 where !seen {
            usleep(10_000)
            let ids = (try? FileManager.default.contentsOfDirectory(atPath: state + "/runs").filter { $0.hasSuffix(".jsonl") }) ?? []
            if let id = ids.first, let text = try? String(contentsOfFile: state + "/runs/\(id)", encoding: .utf8) {
                seen = text.contains(#""event":"step_process""#) && text.contains(#""step":\#(step)"#) && ready()
            }
        }
        XCTAssertTrue(seen, "step \(step) never started")
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
