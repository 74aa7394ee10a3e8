import Foundation
import XCTest

/// The run journal through the built binary: damage is found and stops `resume`, real I/O faults
/// (LD_PRELOAD, `FaultInjection`) stop a run before its side effects, a run killed before its
/// first record leaves nothing behind, and a lost incident record is written back once.
final class JournalIntegrityTests: XCTestCase {
    private static let actions = """
        actions:
          append_blind:
            type: infrastructure
            risk_level: medium
            idempotent: false
            parameters: {tag: required, log: required, dir: required}
            implementation: |
              if [ -e "${dir}/kill-${tag}" ]; then rm -f "${dir}/kill-${tag}"; kill -KILL "$PPID"; n=0; while [ "$(cut -d' ' -f4 /proc/$$/stat)" = "$PPID" ] && [ $n -lt 1000 ]; do sleep 0.01; n=$((n+1)); done; exit 0; fi
              echo "${tag}" >> "${log}"
          linger:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo "$$" > "${log}"; sleep 600
        """

    private static let playbooks = """
        playbook_id: three-steps-001
        name: Three steps, none idempotent
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
          dir: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: one, action: append_blind, tag: s1}
          - {step: 2, name: two, action: append_blind, tag: s2}
          - {step: 3, name: three, action: append_blind, tag: s3}
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
        """

    typealias Workspace = LibraryWorkspace

    private func workspace() throws -> Workspace {
        try LibraryWorkspace(self, actions: Self.actions, playbooks: Self.playbooks)
    }

    // MARK: - Damage

    /// Step 3 kills Medic before its effect; the journal then holds step 2's `step_finished`.
    private func killedAtStepThree(_ ws: Workspace) throws -> (id: String, journal: [UInt8]) {
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("kill-s3").path, contents: nil))
        let killed = try ws.medic(ws.runThree)
        XCTAssertEqual(killed.status, 9, killed.stdout + killed.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2"])
        let id = try ws.onlyRun()
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("\(id)  interrupted"))
        return (id, Array(try Data(contentsOf: URL(fileURLWithPath: ws.runs + "/\(id).jsonl"))))
    }

    func testADamagedJournalStopsResumeAndShowSaysWhatIsDamaged() throws {
        let ws = try workspace()
        let (id, original) = try killedAtStepThree(ws)
        let path = ws.runs + "/\(id).jsonl"
        let lines = String(decoding: original, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let finishedTwo = try XCTUnwrap(lines.firstIndex {
            $0.contains(#""event":"step_finished""#) && ($0.contains(#""step":2,"#) || $0.hasSuffix(#""step":2}"#))
        })
        let line = lines[finishedTwo]
        // The changes the readers once took silently, and a line that does not decode at all.
        let damaged: [(String, String)] = [
            ("phase -> qhase", line.replacingOccurrences(of: #""phase":"#, with: #""qhase":"#)),
            ("result -> sesult", line.replacingOccurrences(of: #""result":"#, with: #""sesult":"#)),
            ("step 2 -> 0", line.replacingOccurrences(of: #""step":2"#, with: #""step":0"#)),
            ("seq changed", line.replacingOccurrences(of: #""seq":\#(finishedTwo + 1),"#, with: #""seq":\#(finishedTwo + 9),"#)),
            ("not a record", String(repeating: "#", count: line.utf8.count)),
            ("a line missing", ""),
        ]
        for (what, replacement) in damaged {
            XCTAssertNotEqual(replacement, line, what)
            var changed = lines
            if replacement.isEmpty { changed.remove(at: finishedTwo) } else { changed[finishedTwo] = replacement }
            let bytes = Data(changed.joined(separator: "\n").utf8)
            try bytes.write(to: URL(fileURLWithPath: path))
            let where_ = "\(path):\(finishedTwo + 1):"

            let resumed = try ws.medic(["resume", id, "--yes"])
            XCTAssertEqual(resumed.status, 1, "\(what): \(resumed.stdout)\(resumed.stderr)")
            XCTAssertTrue(resumed.stderr.contains("is damaged: " + where_), "\(what): \(resumed.stderr)")
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), bytes, "\(what): nothing is appended or repaired")
            XCTAssertEqual(ws.effects, ["s1", "s2"], "\(what): no step ran again")

            let shown = try ws.medic(["show", id])
            XCTAssertEqual(shown.status, 1, what)
            XCTAssertTrue(shown.stdout.contains("DAMAGED") && shown.stdout.contains(where_), "\(what): \(shown.stdout)")
            let listed = try ws.medic(["runs"])
            XCTAssertEqual(listed.status, 0)
            XCTAssertTrue(listed.stdout.contains("\(id)  damaged"), "\(what): \(listed.stdout)")
            XCTAssertTrue(listed.stderr.contains(where_), "\(what): \(listed.stderr)")
            let json = try ws.medic(["runs", "--json"])
            let runs = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
            XCTAssertEqual(runs.first?["status"] as? String, "damaged", what)
            XCTAssertTrue((runs.first?["damage"] as? String)?.hasPrefix(where_) == true, "\(what): \(json.stdout)")
        }

        // The whole journal back: the run resumes (step 3 had not had its effect), and no step runs twice.
        try Data(original).write(to: URL(fileURLWithPath: path))
        let resumed = try ws.medic(["resume", id, "--yes"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3"])
    }

    func testADamagedJournalStopsTheGatesThatCountItsPlaybooksRuns() throws {
        let ws = try workspace()
        let (id, original) = try killedAtStepThree(ws)
        var bytes = original
        bytes[10] ^= 0x01  // inside run_started: the run's playbook is unknown now
        try Data(bytes).write(to: URL(fileURLWithPath: ws.runs + "/\(id).jsonl"))
        try FileManager.default.removeItem(atPath: ws.log)
        let refused = try ws.medic(ws.runThree + ["--json"])
        XCTAssertEqual(refused.status, 1, refused.stdout + refused.stderr)
        XCTAssertTrue(refused.stdout.contains("the journal of run \(id) is damaged"), refused.stdout)
        XCTAssertEqual(ws.effects, [], "refused before any step")
    }

    func testResumeIsRefusedWhileTheRunsLockIsHeld() throws {
        let ws = try workspace()
        let process = Process()
        process.executableURL = Medic.binary
        process.arguments = ws.arguments(["run", "linger-001", "--param", "log=\(ws.log)"])
        process.currentDirectoryURL = ws.dir
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        addTeardownBlock {
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
        }
        // The step writes its shell's pid once it runs: the run holds its lock then.
        var started = false
        for _ in 0..<1200 where !started {
            started = !ws.effects.isEmpty
            if !started { usleep(50_000) }
        }
        XCTAssertTrue(started, "the run's step never started")
        let id = try ws.onlyRun()
        let path = ws.runs + "/\(id).jsonl"
        // The step may write its pid before its run journals the shell (`step_process`): the
        // journal is still until the step ends only after that record.
        var journaled = false
        for _ in 0..<1200 where !journaled {
            journaled = (try? String(contentsOfFile: path, encoding: .utf8))?.contains("\"step_process\"") == true
            if !journaled { usleep(50_000) }
        }
        XCTAssertTrue(journaled, "the run never journaled its step's process")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let resumed = try ws.medic(["resume", id, "--yes"])
        XCTAssertEqual(resumed.status, 1, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("is running in another process"), resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "nothing was written to the running run's journal")
        XCTAssertTrue(try ws.medic(["runs"]).stdout.contains("\(id)  running"))
        process.terminate()
        process.waitUntilExit()
    }

    // MARK: - I/O faults

    func testAFailedFsyncOfTheRunsDirectoryStopsTheRunBeforeItsFirstStep() throws {
        let ws = try workspace()
        let run = try ws.medic(ws.runThree, faults: ["MEDIC_FAULT_FSYNC": "directory"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("fsync of the directory \(ws.runs)"), run.stderr)
        XCTAssertTrue(run.stderr.contains("Input/output error"), run.stderr)
        XCTAssertEqual(ws.effects, [], "no step ran: the journal's name could not be made durable")
        XCTAssertEqual(ws.files(".jsonl") + ws.files(".creating"), [], "the run left no journal")
        let listed = try ws.medic(["runs"])
        XCTAssertEqual(listed.stderr, "")
    }

    func testAFailedFsyncOfTheJournalStopsTheRunBeforeTheStepItAnnounces() throws {
        let ws = try workspace()
        // Syncs of the journal: run_started, step 1's intent (which makes gates_evaluated durable
        // with it), then step 2's, which fails.
        let run = try ws.medic(ws.runThree, faults: ["MEDIC_FAULT_FSYNC": "journal:2"])
        XCTAssertEqual(run.status, 1, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("durable (fsync): Input/output error"), run.stderr)
        XCTAssertEqual(ws.effects, ["s1"], "step 2 did not start: its intent is not known to be on disk")
        let id = try ws.onlyRun()
        let resumed = try ws.medic(["resume", id, "--yes"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3"])
    }

    func testARunKilledBeforeItsFirstRecordLeavesNothingBehind() throws {
        let ws = try workspace()
        let killed = try ws.medic(ws.runThree, faults: ["MEDIC_FAULT_KILL_WRITE": "/runs/"])
        XCTAssertEqual(killed.status, 9, killed.stdout + killed.stderr)
        XCTAssertEqual(ws.effects, [])
        XCTAssertEqual(ws.files(".jsonl"), [], "no journal without its run_started")
        let listed = try ws.medic(["runs"])
        XCTAssertEqual(listed.status, 0)
        XCTAssertEqual(listed.stderr, "", "nothing to warn about")
        XCTAssertTrue(listed.stdout.contains("No runs yet"), listed.stdout)
        XCTAssertEqual(ws.files(".creating"), [], "the unfinished first write was cleaned up")

        // A journal with no record, as an older Medic left it, is removed once, with a word.
        let legacy = ws.runs + "/20260101-000000-0badf00d.jsonl"
        XCTAssertTrue(FileManager.default.createFile(atPath: legacy, contents: nil))
        let first = try ws.medic(["runs"])
        XCTAssertTrue(first.stderr.contains("removed a journal with no record"), first.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: legacy))
        XCTAssertEqual(try ws.medic(["runs"]).stderr, "")
    }

    // MARK: - Incident records

    func testAnIncidentRecordLostToAKillIsWrittenOnceByTheNextListing() throws {
        let ws = try workspace()
        let killed = try ws.medic(ws.runThree, faults: ["MEDIC_FAULT_KILL_WRITE": "incident-history.jsonl"])
        XCTAssertEqual(killed.status, 9, killed.stdout + killed.stderr)
        XCTAssertEqual(ws.effects, ["s1", "s2", "s3"])
        let id = try ws.onlyRun()
        XCTAssertEqual(ws.incidentRunIDs, [], "killed before the record was written")
        let listed = try ws.medic(["runs"])
        XCTAssertTrue(listed.stdout.contains("\(id)  succeeded"), listed.stdout)
        XCTAssertTrue(listed.stderr.contains("its incident record was missing"), listed.stderr)
        XCTAssertEqual(ws.incidentRunIDs, [id])
        XCTAssertEqual(try ws.medic(["runs"]).stderr, "")
        XCTAssertEqual(ws.incidentRunIDs, [id], "written once")
    }

    func testARecordWrittenButNotMarkedIsNotWrittenAgain() throws {
        let ws = try workspace()
        let killed = try ws.medic(ws.runThree, faults: ["MEDIC_FAULT_KILL_OPEN": ".recorded"])
        XCTAssertEqual(killed.status, 9, killed.stdout + killed.stderr)
        let id = try ws.onlyRun()
        XCTAssertEqual(ws.incidentRunIDs, [id], "the record was written, its mark was not")
        XCTAssertEqual(ws.files(".recorded"), [])
        XCTAssertEqual(try ws.medic(["runs"]).stderr, "")
        XCTAssertEqual(ws.incidentRunIDs, [id], "not written twice")
        XCTAssertEqual(ws.files(".recorded"), ["\(id).recorded"])
    }

    func testAnIncidentRecordThatCouldNotBeWrittenIsWrittenOnceTheKnowledgeBaseIsBack() throws {
        let ws = try workspace()
        try FileManager.default.createDirectory(atPath: ws.state, withIntermediateDirectories: true)
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.state + "/knowledge", contents: Data("in the way".utf8)))
        let run = try ws.medic(ws.runThree)
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stderr.contains("was not written"), run.stderr)
        let id = try ws.onlyRun()
        let blocked = try ws.medic(["runs"])
        XCTAssertTrue(blocked.stderr.contains("has no incident record"), blocked.stderr)
        try FileManager.default.removeItem(atPath: ws.state + "/knowledge")
        let listed = try ws.medic(["runs"])
        XCTAssertTrue(listed.stderr.contains("its incident record was missing"), listed.stderr)
        XCTAssertEqual(ws.incidentRunIDs, [id])
        _ = try ws.medic(["runs"])
        XCTAssertEqual(ws.incidentRunIDs, [id])
    }
}

extension LibraryWorkspace {
    func medic(_ arguments: [String], faults: [String: String]) throws -> MedicRun {
        try FaultInjection.medic(self.arguments(arguments), in: dir, faults: faults)
    }

    var runThree: [String] { ["run", "three-steps-001", "--param", "log=\(log)", "--param", "dir=\(dir.path)"] }

    var incidentRunIDs: [String] {
        let text = (try? String(contentsOfFile: state + "/knowledge/incident-history.jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["run_id"] as? String
        }
    }
}
