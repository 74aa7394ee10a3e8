import Foundation
import XCTest

/// `medic run`, `runs`, `show` and `resume` through the built binary, with real shell steps,
/// real journals, and real SIGKILLs.
final class RunCommandTests: XCTestCase {
    /// A library whose steps record what they did in `${log}`, one tag a line, and can kill the
    /// Medic that runs them (`kill-<tag>-before` / `kill-<tag>-after` files in `${dir}`), waiting
    /// until it is gone (the shell's parent changes) so that Medic never sees the step end.
    private static let actions = """
        actions:
          record_once:
            type: infrastructure
            risk_level: low
            description: Idempotent, by construction.
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              \(killer("before"))
              grep -qx "${tag}" "${log}" 2>/dev/null || echo "${tag}" >> "${log}"
              \(killer("after"))
          append_checked:
            type: infrastructure
            risk_level: medium
            idempotent: false
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              \(killer("before"))
              echo "${tag}" >> "${log}"
              \(killer("after"))
            verification: grep -qx "${tag}" "${log}"
          append_blind:
            type: infrastructure
            risk_level: medium
            idempotent: false
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              \(killer("before"))
              echo "${tag}" >> "${log}"
              \(killer("after"))
          write_value:
            type: infrastructure
            risk_level: low
            parameters: {value: required, log: required}
            implementation: printf '%s' "${value}" > "${log}"
          undoable:
            type: infrastructure
            risk_level: low
            parameters: {tag: required, log: required, dir: required}
            implementation: echo "${tag}" >> "${log}"
            rollback: |
              grep -qx "undo-${tag}" "${log}" || echo "undo-${tag}" >> "${log}"
              \(killer("undo"))
          linger:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo "$$" > "${log}"; (sleep 600 &); sleep 600
          fail:
            type: infrastructure
            risk_level: low
            implementation: echo "disk on fire" >&2; exit 4
        """

    private static func killer(_ when: String) -> String {
        #"if [ -e "${dir}/kill-${tag}-\#(when)" ]; then rm -f "${dir}/kill-${tag}-\#(when)"; kill -KILL "$PPID"; n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; exit 0; fi"#
    }

    private static let playbooks = """
        playbook_id: four-steps-001
        name: Four steps
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: one, action: record_once, tag: s1}
          - {step: 2, name: two, action: append_checked, tag: s2}
          - {step: 3, name: three, action: append_blind, tag: s3}
          - {step: 4, name: four, action: record_once, tag: s4}
        metadata: {}
        ---
        playbook_id: echo-001
        name: Echo a value
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          value: {type: string, required: true}
          log: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: write, action: write_value}
        metadata: {}
        ---
        playbook_id: undo-001
        name: Fails and rolls back
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: change, action: undoable, tag: s1}
          - {step: 2, name: break, action: fail, on_failure: rollback}
        rollback: {available: true}
        metadata: {}
        ---
        playbook_id: linger-001
        name: Lingers
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: linger, action: linger}
        metadata: {}
        ---
        playbook_id: failing-001
        name: Fails
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

    func testARunPrintsPlainProgressAndExitsByItsOutcome() throws {
        let ws = try workspace()
        let ok = try ws.runFourSteps()
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"])
        XCTAssertTrue(ok.stdout.contains("step 1/4 one: ok (exit 0"), ok.stdout)
        XCTAssertTrue(ok.stdout.contains("Outcome: succeeded"), ok.stdout)
        XCTAssertFalse(ok.stdout.contains("\u{1B}["), "no terminal codes when stdout is not a terminal")

        let failed = try ws.medic(["run", "failing-001"])
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stdout.contains("step 1/1 burn: FAILED (exit 4"), failed.stdout)
        XCTAssertTrue(failed.stdout.contains("disk on fire"), "the step's last stderr line is shown")
        XCTAssertTrue(failed.stdout.contains("escalated (notify oncall)"), failed.stdout)
        // The escalation reached the default bus: a CloudEvent in the state directory's outbox.
        let outbox = try String(contentsOfFile: ws.state + "/outbox.jsonl", encoding: .utf8)
        XCTAssertTrue(outbox.contains("dev.medic.run.escalated"), outbox)

        let json = try ws.medic(["run", "failing-001", "--json"])
        XCTAssertEqual(json.status, 1)
        let report = try Medic.json(json.stdout)
        XCTAssertEqual(report["outcome"] as? String, "failed")
        XCTAssertEqual((report["steps"] as? [[String: Any]])?.first?["status"] as? String, "failed")

        XCTAssertEqual(try ws.medic(["run", "no-such-playbook"]).status, 2)
        XCTAssertEqual(try ws.medic(["run", "echo-001"]).status, 2, "a required parameter is missing")
        XCTAssertEqual(try ws.medic(["run", "echo-001", "--param", "value=x", "--param", "log=/tmp/x", "--bus", "carrier-pigeon"]).status, 2)
    }

    func testDryRunPrintsThePlanAndRunsNothing() throws {
        let ws = try workspace()
        let dry = try ws.medic(["run", "four-steps-001", "--dry-run", "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"])
        XCTAssertEqual(dry.status, 0, dry.stderr)
        let plan = try Medic.run(["plan", "four-steps-001", "--root", ws.dir.path, "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"], in: ws.dir)
        XCTAssertEqual(dry.stdout, plan.stdout + "\nDry run: nothing ran and nothing was journaled. Without --dry-run, medic run carries this plan out.\n",
                       "--dry-run is the plan, and says that nothing ran")
        XCTAssertEqual(ws.effects, [])
        XCTAssertFalse(FileManager.default.fileExists(atPath: ws.state), "a dry run writes no state")
    }

    func testParameterValuesNeverBecomeCode() throws {
        let ws = try workspace()
        let marker = ws.dir.appendingPathComponent("pwned").path
        for value in ["x; touch \(marker)", "$(touch \(marker))", "`touch \(marker)`", "a\ntouch \(marker)", "' ; touch \(marker) ; '"] {
            let result = try ws.medic(["run", "echo-001", "--param", "value=\(value)", "--param", "log=\(ws.log)"])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(try String(contentsOfFile: ws.log, encoding: .utf8), value, "the value arrives as given")
            XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "'\(value)' ran as code")
        }
    }

    func testRunsAndShowTellWhatHappened() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.runFourSteps().status, 0)
        let id = try ws.onlyRun()
        let list = try ws.medic(["runs", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        XCTAssertEqual(runs.first?["id"] as? String, id)
        XCTAssertEqual(runs.first?["outcome"] as? String, "succeeded")
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("\(id)  succeeded  four-steps-001 1.0.0"))

        let shown = try ws.medic(["show", String(id.prefix(12))])
        XCTAssertEqual(shown.status, 0, shown.stderr)
        XCTAssertTrue(shown.stdout.contains("2. two [append_checked]: succeeded"), shown.stdout)
        XCTAssertTrue(shown.stdout.contains("Timeline:"), shown.stdout)
        XCTAssertEqual(shown.stdout.components(separatedBy: "step_started").count - 1, 5, "four steps and one action check: \(shown.stdout)")
        XCTAssertEqual(try ws.medic(["show", "nope"]).status, 2)
    }

    // MARK: - Crash safety

    func testAStoppedMedicEndsItsRunningStepsAndLeavesTheRunInterrupted() throws {
        let ws = try workspace()
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ["run", "linger-001", "--param", "log=\(ws.log)", "--root", ws.dir.path, "--state-dir", ws.state]
        process.currentDirectoryURL = ws.dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The step writes its shell's pid (its session id) once it runs.
        var session: Int32?
        for _ in 0..<600 where session == nil {
            session = Int32(ws.effects.first ?? "")
            if session == nil { usleep(50_000) }
        }
        let sid = try XCTUnwrap(session, "the step never started")
        XCTAssertFalse(ProcessTable.members(ofSession: sid).isEmpty, "the check below sees the step's processes while they run")
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 128 + SIGTERM)
        // No process of the step's session is left: not the shell, not its sleeps.
        var left: [String] = []
        for _ in 0..<100 {
            left = ProcessTable.members(ofSession: sid).map(String.init)
            if left.isEmpty { break }
            usleep(50_000)
        }
        XCTAssertEqual(left, [], "processes of the step's session survived")
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("interrupted"))
    }

    func testKilledDuringANonIdempotentStepResumesAfterItsVerificationPasses() throws {
        let ws = try workspace()
        let killed = try ws.runFourSteps(killing: ["s2-after"])
        XCTAssertEqual(killed.status, 9, "SIGKILLed by step 2: \(killed.stderr)")
        XCTAssertEqual(ws.effects, ["s1", "s2"])
        let id = try ws.onlyRun()
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("\(id)  interrupted"), "the next Medic marks it interrupted")

        let resumed = try ws.medic(["resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("verification passed, so it counts as done"), resumed.stdout)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"], "every step exactly once")
        XCTAssertEqual(try ws.medic(["resume", id]).status, 1, "a finished run cannot be resumed")
    }

    func testANonIdempotentStepWithUnknownOutcomeIsEscalatedNotRunAgain() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.runFourSteps(killing: ["s3-after"]).status, 9)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3"])
        let resumed = try ws.medic(["resume", try ws.onlyRun(), "--json"])
        XCTAssertEqual(resumed.status, 1)
        let report = try Medic.json(resumed.stdout)
        XCTAssertEqual(report["outcome"] as? String, "escalated")
        XCTAssertTrue((report["message"] as? String)?.contains("outcome unknown: step 3") == true, resumed.stdout)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3"], "step 3 is not run again, step 4 not at all")
    }

    func testOnATerminalResumeAsksBeforeRunningAStartedNonIdempotentStepAgain() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("needs script(1) for a terminal") }
        for (answer, expected, status) in [("n", ["s1", "s2", "s3"], Int32(1)), ("y", ["s1", "s2", "s3", "s3", "s4"], Int32(0))] {
            let ws = try workspace()
            XCTAssertEqual(try ws.runFourSteps(killing: ["s3-after"]).status, 9)
            // script(1) gives medic a terminal; the answer is typed into it.
            let command = [Medic.binary.path, "resume", try ws.onlyRun(), "--state-dir", ws.state].map(ShellWords.quote).joined(separator: " ")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            process.arguments = ["-qec", command, "/dev/null"]
            process.currentDirectoryURL = ws.dir
            let input = Pipe(), output = Pipe()
            process.standardInput = input
            process.standardOutput = output
            try process.run()
            input.fileHandleForWriting.write(Data("\(answer)\n".utf8))
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertTrue(text.contains("is not idempotent and had started when Medic stopped"), text)
            XCTAssertEqual(process.terminationStatus, status, text)
            XCTAssertEqual(ws.effects, expected, "answer \(answer)")
        }
    }

    func testKilledDuringARollbackResumesTheRollbackNotTheSteps() throws {
        let ws = try workspace()
        ws.arm("s1-undo")
        let killed = try ws.medic(["run", "undo-001", "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"])
        XCTAssertEqual(killed.status, 9, killed.stdout)
        XCTAssertEqual(ws.effects, ["s1", "undo-s1"])
        let resumed = try ws.medic(["resume", try ws.onlyRun(), "--json"])
        XCTAssertEqual(resumed.status, 1, "a rolled back run did not succeed")
        let report = try Medic.json(resumed.stdout)
        XCTAssertEqual(report["outcome"] as? String, "rolled_back", resumed.stdout)
        XCTAssertTrue((report["message"] as? String)?.contains("step 2 (break) failed: exit 4") == true, resumed.stdout)
        XCTAssertEqual(ws.effects, ["s1", "undo-s1"], "no step ran again; the undo ran again, idempotently")
    }

    func testYesRunsAStartedNonIdempotentStepAgain() throws {
        let ws = try workspace()
        // Killed as step 3 starts, before its effect: with --yes it runs (once).
        XCTAssertEqual(try ws.runFourSteps(killing: ["s3-before"]).status, 9)
        XCTAssertEqual(ws.effects, ["s1", "s2"])
        let resumed = try ws.medic(["resume", try ws.onlyRun(), "--yes"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"])
    }

    func testKilledTwiceAndResumedTwiceEveryStepRunsOnce() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.runFourSteps(killing: ["s1-after"]).status, 9)
        let id = try ws.onlyRun()
        ws.arm("s4-after")
        let first = try ws.medic(["resume", id])
        XCTAssertEqual(first.status, 9, "killed again, by step 4: \(first.stdout)")
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"])
        let second = try ws.medic(["resume", id])
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        XCTAssertTrue(second.stdout.contains("it is idempotent, so it runs again"), second.stdout)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"], "the idempotent step 4 ran again without a second effect")
        let shown = try ws.medic(["show", id, "--json"])
        let records = try XCTUnwrap(try Medic.json(shown.stdout)["records"] as? [[String: Any]])
        XCTAssertEqual(records.filter { $0["event"] as? String == "run_interrupted" }.count, 2)
        XCTAssertEqual(records.filter { $0["event"] as? String == "step_started" && $0["step"] as? Int == 2 && $0["phase"] as? String == "step" }.count, 1)
    }

    func testAJournalThatCannotBeWrittenStopsTheRunBeforeTheStep() throws {
        let ws = try workspace()
        // Measure the run_started record of this very run, then allow only that much and a few bytes.
        XCTAssertEqual(try ws.runFourSteps().status, 0)
        let first = try String(contentsOfFile: ws.state + "/runs/\(try ws.onlyRun()).jsonl", encoding: .utf8).split(separator: "\n")[0]
        try FileManager.default.removeItem(atPath: ws.state)
        try FileManager.default.removeItem(atPath: ws.log)
        let full = try ws.medic(["run", "four-steps-001", "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"],
                                fileSizeLimit: first.utf8.count + 1 + 20)
        XCTAssertEqual(full.status, 1, full.stdout + full.stderr)
        XCTAssertTrue(full.stderr.contains("cannot write the run journal"), full.stderr)
        XCTAssertEqual(ws.effects, [], "no step ran: its intent could not be recorded")
        let journal = try String(contentsOfFile: ws.state + "/runs/\(try ws.onlyRun()).jsonl", encoding: .utf8)
        XCTAssertTrue(journal.hasSuffix("\n") && journal.split(separator: "\n").count == 1, "only whole lines: \(journal)")
    }

    func testATornLastLineIsSetAsideAndReported() throws {
        let ws = try workspace()
        XCTAssertEqual(try ws.runFourSteps(killing: ["s2-after"]).status, 9)
        let id = try ws.onlyRun()
        let path = ws.state + "/runs/\(id).jsonl"
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"seq":99,"event":"step_fin"#.utf8))
        try handle.close()
        let runs = try ws.medic(["runs"])
        XCTAssertTrue(runs.stderr.contains("torn last line"), runs.stderr)
        XCTAssertTrue(runs.stdout.contains("interrupted"))
        XCTAssertEqual(try String(contentsOfFile: ws.state + "/runs/\(id).torn", encoding: .utf8), #"{"seq":99,"event":"step_fin"# + "\n")
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("\n"))
        XCTAssertEqual(try ws.medic(["resume", id]).status, 0)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3", "s4"])
    }
}

final class DemoCommandTests: XCTestCase {
    func testTheDemoFloodsItsSandboxThenCleansAndVerifiesIt() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        let result = try Medic.run(["demo", "--state-dir", state, "--size-mb", "4", "--json"], in: dir)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let report = try Medic.json(result.stdout)
        XCTAssertEqual(report["outcome"] as? String, "succeeded")
        XCTAssertEqual((report["steps"] as? [[String: Any]])?.map { $0["status"] as? String }, ["succeeded", "succeeded", "succeeded"])
        let flooded = (report["steps"] as? [[String: Any]])?.first?["outputs"] as? [String: String]
        XCTAssertGreaterThanOrEqual(Int(flooded?["flooded_bytes"] ?? "") ?? 0, 4 << 20, "the sandbox was really filled")
        let verification = try XCTUnwrap((report["verification"] as? [[String: Any]])?.first)
        XCTAssertEqual(verification["state"] as? String, "SUCCESS")
        // What the verification measured is what is on disk now: under 1 MB left in the sandbox.
        let sandbox = state + "/demo-sandbox"
        let sizes = try FileManager.default.contentsOfDirectory(atPath: sandbox).map {
            (try FileManager.default.attributesOfItem(atPath: sandbox + "/" + $0)[.size] as? Int) ?? 0
        }
        XCTAssertEqual(sizes.count, 4)
        XCTAssertLessThan(sizes.reduce(0, +), 1 << 20)
        let runs = try Medic.run(["runs", "--state-dir", state], in: dir)
        XCTAssertTrue(runs.stdout.contains("succeeded  demo-log-flood-001 1.0.0"), runs.stdout)
    }

    /// The demo goes through the stages of `medic run`: a pause refuses it like any run a person
    /// starts without --force (nothing is flooded), and once resumed it runs gated.
    func testTheDemoMeetsTheGatesOfARun() throws {
        let dir = try Medic.temporaryDirectory(self)
        let state = dir.appendingPathComponent("state").path
        XCTAssertEqual(try Medic.run(["pause", "--by", "alice", "--state-dir", state], in: dir).status, 0)
        let refused = try Medic.run(["demo", "--state-dir", state, "--size-mb", "1", "--json"], in: dir)
        XCTAssertEqual(refused.status, 1, refused.stdout + refused.stderr)
        XCTAssertEqual(try Medic.json(refused.stdout)["outcome"] as? String, "refused", refused.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: state + "/demo-sandbox"), "a refused demo flooded its sandbox")

        let forced = try Medic.run(["demo", "--state-dir", state, "--size-mb", "1", "--force", "--json"], in: dir)
        XCTAssertEqual(forced.status, 0, forced.stdout + forced.stderr)
        XCTAssertEqual(try Medic.json(forced.stdout)["outcome"] as? String, "succeeded", forced.stdout)
    }

    func testTheEmbeddedLibraryIsValid() throws {
        let dir = try Medic.temporaryDirectory(self)
        let printed = try Medic.run(["demo", "--print-library"], in: dir)
        XCTAssertEqual(printed.status, 0)
        let parts = printed.stdout.components(separatedBy: "# playbooks/demo-log-flood-001.yaml\n")
        XCTAssertEqual(parts.count, 2)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try parts[0].replacingOccurrences(of: "# actions/demo.yaml\n", with: "")
            .write(to: dir.appendingPathComponent("actions/demo.yaml"), atomically: true, encoding: .utf8)
        try parts[1].write(to: dir.appendingPathComponent("playbooks/demo.yaml"), atomically: true, encoding: .utf8)
        let validated = try Medic.run(["validate", "--root", dir.path, "--strict"], in: dir)
        XCTAssertEqual(validated.status, 0, validated.stdout + validated.stderr)
    }
}

/// POSIX sh single quotes, for a command line handed to script(1).
enum ShellWords {
    static func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: #"'\''"#) + "'" }
}

private extension LibraryWorkspace {
    func runFourSteps(killing: [String] = []) throws -> MedicRun {
        for name in killing { arm(name) }
        return try medic(["run", "four-steps-001", "--param", "log=\(log)", "--param", "dir=\(dir.path)"])
    }
}
