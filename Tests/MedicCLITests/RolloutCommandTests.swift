import Foundation
import XCTest

/// Rollouts through the binary: targets from flags, an inventory and a command; the plan's stages;
/// the run's summary; a Medic SIGKILLed in the middle of a rollout, resumed.
final class RolloutCommandTests: XCTestCase {
    /// Each step appends `<tag> <target> <zone>` to `${log}` (once: it is idempotent), and can kill
    /// the Medic running it when `${dir}/kill-<target>` exists (it waits until Medic is gone).
    private static let actions = """
        actions:
          mark:
            type: infrastructure
            risk_level: low
            parameters: {log: required, dir: required}
            implementation: |
              grep -qx "mark ${target} ${target_zone}" "${log}" 2>/dev/null || echo "mark ${target} ${target_zone}" >> "${log}"
              if [ -e "${dir}/kill-${target}" ]; then
                rm -f "${dir}/kill-${target}"; kill -KILL "$PPID"
                n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; exit 0
              fi
              if [ -e "${dir}/fail-${target}" ]; then exit 3; fi
            rollback: echo "undo ${target}" >> "${log}"
        """

    private static func playbook(rollout: String = "stages: [1, 50%, all]\n  max_concurrency: 2") -> String {
        """
        playbook_id: fleet-001
        name: Fleet
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        targets:
          - {name: h1, labels: {zone: a}}
          - {name: h2, labels: {zone: b}}
          - {name: h3, labels: {zone: a}}
          - {name: h4, labels: {zone: b}}
        rollout:
          \(rollout)
        remediation_steps:
          - {step: 1, name: mark it, action: mark}
        rollback: {available: true}
        metadata: {}
        """
    }

    private struct Workspace {
        var dir: URL
        var log: String { dir.appendingPathComponent("effects.log").path }
        var state: String { dir.appendingPathComponent("state").path }

        func medic(_ arguments: [String]) throws -> MedicRun {
            var arguments = arguments
            if ["run", "resume", "show"].contains(arguments.first) { arguments += ["--state-dir", state] }
            if ["run", "plan"].contains(arguments.first) {
                arguments += ["--root", dir.path, "--param", "log=\(log)", "--param", "dir=\(dir.path)"]
            }
            return try Medic.run(arguments, in: dir)
        }

        func touch(_ name: String) {
            XCTAssertTrue(FileManager.default.createFile(atPath: dir.appendingPathComponent(name).path, contents: nil))
        }

        var effects: [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func write(_ path: String, _ text: String) throws {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    private func workspace(rollout: String? = nil) throws -> Workspace {
        let ws = Workspace(dir: try Medic.temporaryDirectory(self))
        try ws.write("actions/a.yaml", Self.actions)
        try ws.write("playbooks/p.yaml", rollout.map { Self.playbook(rollout: $0) } ?? Self.playbook())
        return ws
    }

    func testPlanShowsTheStagesAndTheRunFollowsThem() throws {
        let ws = try workspace()
        let plan = try ws.medic(["plan", "fleet-001", "--json"])
        XCTAssertEqual(plan.status, 0, plan.stderr)
        let rollout = try XCTUnwrap(try Medic.json(plan.stdout)["rollout"] as? [String: Any])
        let stages = try XCTUnwrap(rollout["stages"] as? [[String: Any]])
        XCTAssertEqual(stages.map { $0["targets"] as? [String] }, [["h1"], ["h2"], ["h3", "h4"]])
        let text = try ws.medic(["plan", "fleet-001"])
        XCTAssertTrue(text.stdout.contains("stage 3 (all, 4 of 4): h3, h4"), text.stdout)

        let run = try ws.medic(["run", "fleet-001"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertEqual(Array(ws.effects.prefix(2)), ["mark h1 a", "mark h2 b"], "stage by stage")
        XCTAssertEqual(Set(ws.effects.suffix(2)), ["mark h3 a", "mark h4 b"])
        // The summary table at the end.
        XCTAssertTrue(run.stdout.contains("Rollout:"), run.stdout)
        XCTAssertTrue(run.stdout.contains("targets: 4 succeeded"), run.stdout)
    }

    func testAFailedTargetAbortsAndTheRemediatedOnesAreUndoneNewestFirst() throws {
        let ws = try workspace(rollout: "stages: [1, 2, all]")
        ws.touch("fail-h3")
        let run = try ws.medic(["run", "fleet-001", "--json"])
        XCTAssertEqual(run.status, 1)
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a", "undo h2", "undo h1"])
        let report = try Medic.json(run.stdout)
        XCTAssertEqual(report["outcome"] as? String, "rolled_back")
        let rollout = try XCTUnwrap(report["rollout"] as? [String: Any])
        let states = try XCTUnwrap(rollout["targets"] as? [[String: Any]]).map { "\($0["name"]!)=\($0["status"]!)" }
        XCTAssertEqual(states, ["h1=undone", "h2=undone", "h3=failed", "h4=not_started"])
        XCTAssertNotNil(report["escalation"] as? String)
    }

    func testAMedicKilledMidRolloutResumesWhereItWas() throws {
        let ws = try workspace(rollout: "stages: [1, 2, all]")
        ws.touch("kill-h3")
        let killed = try ws.medic(["run", "fleet-001"])
        XCTAssertEqual(killed.status, 9, "SIGKILLed by h3's step: \(killed.stderr)")
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a"])
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.state + "/runs").first { $0.hasSuffix(".jsonl") })
            .replacingOccurrences(of: ".jsonl", with: "")
        let resumed = try ws.medic(["resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("target h3: step 1 was running when the process died; it is idempotent, so it runs again"),
                      resumed.stdout)
        // h1 and h2 are not run again; h3's step runs again (idempotent: no second effect), then h4.
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a", "mark h4 b"])
        let show = try ws.medic(["show", id, "--json"])
        let shown = try XCTUnwrap(try Medic.json(show.stdout)["report"] as? [String: Any])
        let rollout = try XCTUnwrap(shown["rollout"] as? [String: Any])
        XCTAssertEqual(try XCTUnwrap(rollout["targets"] as? [[String: Any]]).compactMap { $0["status"] as? String },
                       Array(repeating: "succeeded", count: 4))
    }

    func testKilledWhileUndoingAnAbortedRolloutResumeFinishesTheUndo() throws {
        let ws = try workspace(rollout: "stages: [all]\n  max_concurrency: 1")
        ws.touch("fail-h3")
        // Kill Medic during h2's undo (the second undone, newest first: h2 then h1).
        try ws.write("actions/a.yaml", Self.actions.replacingOccurrences(
            of: #"rollback: echo "undo ${target}" >> "${log}""#,
            with: #"rollback: |"# + "\n" + """
                      grep -qx "undo ${target}" "${log}" || echo "undo ${target}" >> "${log}"
                      if [ -e "${dir}/kill-undo-${target}" ]; then
                        rm -f "${dir}/kill-undo-${target}"; kill -KILL "$PPID"
                        n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; exit 0
                      fi
                """))
        ws.touch("kill-undo-h2")
        let killed = try ws.medic(["run", "fleet-001"])
        XCTAssertEqual(killed.status, 9, killed.stdout + killed.stderr)
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a", "undo h2"])
        let id = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: ws.state + "/runs").first { $0.hasSuffix(".jsonl") })
            .replacingOccurrences(of: ".jsonl", with: "")
        let resumed = try ws.medic(["resume", id, "--json"])
        XCTAssertEqual(resumed.status, 1, resumed.stderr)
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a", "undo h2", "undo h1"], "no target is remediated again")
        XCTAssertEqual(try Medic.json(resumed.stdout)["outcome"] as? String, "rolled_back")
    }

    func testAMedicKilledDuringAStageWaitResumesAndWaitsOnlyWhatIsLeft() throws {
        let ws = try workspace(rollout: "stages: [1, all]\n  wait: 2s")
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ["run", "fleet-001", "--state-dir", ws.state, "--root", ws.dir.path,
                             "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Kill it once the wait is journaled.
        var journal = ""
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: ws.state + "/runs")) ?? []
            if let name = runs.first(where: { $0.hasSuffix(".jsonl") }) {
                journal = ws.state + "/runs/" + name
                if ((try? String(contentsOfFile: journal, encoding: .utf8)) ?? "").contains("\"stage_waiting\"") { break }
            }
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(ws.effects, ["mark h1 a"], "killed while waiting after stage 1")
        let id = URL(fileURLWithPath: journal).deletingPathExtension().lastPathComponent
        let resumed = try ws.medic(["resume", id])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.effects, ["mark h1 a", "mark h2 b", "mark h3 a", "mark h4 b"])
        let records = try String(contentsOfFile: journal, encoding: .utf8).split(separator: "\n").map { try Medic.json(String($0)) }
        let waits = records.filter { $0["event"] as? String == "stage_waiting" }
        XCTAssertEqual(waits.count, 1, "the resumed run keeps the journaled end of the wait")
        let checked = try XCTUnwrap(records.first { $0["event"] as? String == "stage_checked" })
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(checked["at"] as? String), try XCTUnwrap(waits.first?["until"] as? String),
                                    "the stage's checks come after the wait's end, not before")
    }

    /// `medic run fleet-001` on a terminal (script(1) gives it one); `extra` shell words after it.
    private func onATerminal(_ ws: Workspace) throws -> (Process, TerminalOutput) {
        let command = [Medic.binary.path, "run", "fleet-001", "--state-dir", ws.state, "--root", ws.dir.path,
                       "--param", "log=\(ws.log)", "--param", "dir=\(ws.dir.path)"].map(ShellWords.quote).joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        process.currentDirectoryURL = ws.dir
        let output = TerminalOutput()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output.pipe
        process.environment = ["PATH": "/usr/bin:/bin", "TERM": "xterm"]
        try process.run()
        return (process, output)
    }

    /// What a process wrote, gathered as it comes, so a test can wait for a line to appear.
    private final class TerminalOutput: @unchecked Sendable {
        let pipe = Pipe()
        private let lock = NSLock()
        private var data = Data()
        init() {
            pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
                let chunk = handle.availableData
                guard let self else { return }
                if chunk.isEmpty { handle.readabilityHandler = nil }
                self.lock.withLock { self.data.append(chunk) }
            }
        }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }

    func testOnATerminalALiveLineShowsTheStageTheCountsAndCountsTheWaitDown() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("needs script(1) for a terminal") }
        // A wait of an hour: the live line is redrawn while it lasts, whatever the machine's pace.
        let ws = try workspace(rollout: "stages: [1, all]\n  wait: 1h\n  max_concurrency: 2")
        let (process, output) = try onATerminal(ws)
        // The line is redrawn in place (carriage return, erase line), each time with what is left
        // of the wait: wait (a generous bound) until two different counts were drawn.
        let line = "\r\u{1B}[K  stage 1/2: 1/4 target(s) done, 0 failed, 0 running, 3 pending · waiting "
        func counts() -> [Int] {
            output.text.components(separatedBy: line).dropFirst().compactMap { drawn -> Int? in
                let parts = drawn.prefix { $0 != "s" }.split(separator: "m")
                guard parts.count == 2, let minutes = Int(parts[0]), let seconds = Int(parts[1]) else { return nil }
                return minutes * 60 + seconds
            }
        }
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && Set(counts()).count < 2 { usleep(50_000) }
        let drawn = counts()
        XCTAssertGreaterThanOrEqual(Set(drawn).count, 2, "the live line was redrawn with a new count: \(output.text)")
        XCTAssertEqual(drawn, drawn.sorted(by: >), "the wait counts down")
        XCTAssertLessThanOrEqual(drawn.first ?? .max, 3600)
        // Stop the run (its Medic is the process whose arguments name this state directory).
        let medic = try XCTUnwrap(((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { entry -> Int32? in
            guard let pid = Int32(entry), let cmdline = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline") else { return nil }
            let words = cmdline.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return words.first == Medic.binary.path && words.contains(ws.state) ? pid : nil
        }.first, "the terminal's medic is running")
        kill(medic, SIGTERM)
        process.waitUntilExit()
        XCTAssertEqual(ws.effects, ["mark h1 a"], "stopped during the wait after stage 1")
    }

    func testOnATerminalTheStagesAndTheSummaryAreShown() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/script") else { throw XCTSkip("needs script(1) for a terminal") }
        let ws = try workspace(rollout: "stages: [1, all]\n  max_concurrency: 2")
        let (process, output) = try onATerminal(ws)
        process.waitUntilExit()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !output.text.contains("Rollout:") { usleep(50_000) }
        XCTAssertEqual(process.terminationStatus, 0, output.text)
        XCTAssertTrue(output.text.contains("  stage 1/2: "), output.text)
        XCTAssertTrue(output.text.contains("\r\u{1B}[K"), "the live line is redrawn in place: \(output.text)")
        XCTAssertTrue(output.text.contains("stage 2/2"), output.text)
        XCTAssertTrue(output.text.contains("Rollout:"), output.text)
    }

    func testTargetsFromFlagsAnInventoryWithGroupsAndACommand() throws {
        let ws = try workspace()
        try ws.write("inventory.yaml", """
            hosts:
              - {name: web-1, labels: {zone: a}, groups: [web]}
              - {name: web-2, labels: {zone: b}}
              - {name: db-1, groups: [db]}
            groups:
              web:
                hosts: [web-2]
                labels: {zone: z, service: web}
            """)
        let flags = try ws.medic(["plan", "fleet-001", "--target", "x1,zone=q", "--target", "x2", "--json"])
        XCTAssertEqual(flags.status, 0, flags.stderr)
        XCTAssertEqual(try Self.targets(flags.stdout), ["x1", "x2"])

        let web = try ws.medic(["run", "fleet-001", "--inventory", "inventory.yaml", "--group", "web"])
        XCTAssertEqual(web.status, 0, web.stdout + web.stderr)
        XCTAssertEqual(ws.effects, ["mark web-1 a", "mark web-2 b"], "each host's own label wins over its group's")

        let command = try ws.medic(["plan", "fleet-001", "--targets-command", "printf 'c1 zone=a\\n# a comment\\n\\nc2\\n'", "--json"])
        XCTAssertEqual(command.status, 0, command.stderr)
        XCTAssertEqual(try Self.targets(command.stdout), ["c1", "c2"])
        let json = try ws.medic(["plan", "fleet-001", "--targets-command", #"echo '["j1", {"name": "j2", "labels": {"zone": "b"}}]'"#, "--json"])
        XCTAssertEqual(try Self.targets(json.stdout), ["j1", "j2"])

        // Mistakes are usage errors that say what is wrong, and nothing runs.
        let wildcard = try ws.medic(["plan", "fleet-001", "--targets-command", "echo 'web-*'"])
        XCTAssertEqual(wildcard.status, 2)
        XCTAssertTrue(wildcard.stderr.contains("'web-*' is not a target name"), wildcard.stderr)
        let failing = try ws.medic(["plan", "fleet-001", "--targets-command", "echo boom >&2; exit 4"])
        XCTAssertEqual(failing.status, 2)
        XCTAssertTrue(failing.stderr.contains("the targets command failed (exit 4): boom"), failing.stderr)
        let group = try ws.medic(["plan", "fleet-001", "--inventory", "inventory.yaml", "--group", "wbe"])
        XCTAssertEqual(group.status, 2)
        XCTAssertTrue(group.stderr.contains("did you mean 'web'?"), group.stderr)
        let twice = try ws.medic(["plan", "fleet-001", "--target", "a", "--target", "a"])
        XCTAssertEqual(twice.status, 2)
        XCTAssertTrue(twice.stderr.contains("target 'a' is given twice"), twice.stderr)
        try ws.write("bad.yaml", "hosts:\n  - {name: h, labls: {}}\n")
        let bad = try ws.medic(["plan", "fleet-001", "--inventory", "bad.yaml"])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.stderr.contains("bad.yaml:2:"), bad.stderr)
    }

    private static func targets(_ planJSON: String) throws -> [String] {
        let plan = try Medic.json(planJSON)
        return try XCTUnwrap(plan["targets"] as? [[String: Any]]).compactMap { $0["name"] as? String }
    }
}
