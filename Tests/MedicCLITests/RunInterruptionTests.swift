import Foundation
import XCTest

/// What docs/running.md promises about a run that is stopped or killed, through the binary:
/// SIGINT, SIGTERM and SIGHUP end the running steps' process groups and leave the run
/// interrupted (Medic exits 128 + the signal); a run killed while it waits for a retry resumes
/// at the attempt it had scheduled, with the retries it had left.
final class RunInterruptionTests: XCTestCase {
    private static let actions = """
        actions:
          linger:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo "$$" > "${log}"; (sleep 600 &); sleep 600
          linger_when_held:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: |
              if [ -e "${log}.hold" ]; then echo "$$" > "${log}"; (sleep 600 &); sleep 600; fi
          count_and_fail:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo attempt >> "${log}"; exit 5
          count_then_succeed:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo attempt >> "${log}"; [ "$(wc -l < "${log}")" -ge 2 ]
        """

    private static func playbook(_ id: String, step: String) -> String {
        """
        playbook_id: \(id)
        name: \(id)
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
        remediation_steps:
          - \(step)
        metadata: {}
        """
    }

    private struct Workspace {
        var dir: URL
        var log: String { dir.appendingPathComponent("effects.log").path }
        var state: String { dir.appendingPathComponent("state").path }

        /// `medic run PLAYBOOK` started in the background.
        func start(_ playbook: String) throws -> Process {
            let process = Process()
            process.executableURL = Medic.binary
            process.arguments = ["run", playbook, "--param", "log=\(log)", "--root", dir.path, "--state-dir", state]
            process.currentDirectoryURL = dir
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            return process
        }

        func medic(_ arguments: [String], timeout: Double = 60) throws -> MedicRun {
            try Medic.run(arguments + ["--state-dir", state], in: dir, timeout: timeout)
        }

        var logLines: [String] {
            ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        /// The one journal of the state directory, once it exists.
        func journal() throws -> String? {
            let runs = state + "/runs"
            guard FileManager.default.fileExists(atPath: runs) else { return nil }
            let names = try FileManager.default.contentsOfDirectory(atPath: runs).filter { $0.hasSuffix(".jsonl") }
            return names.first.map { runs + "/" + $0 }
        }
    }

    private func workspace() throws -> Workspace {
        let dir = try Medic.temporaryDirectory(self)
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        let playbooks = [
            Self.playbook("linger-001", step: "{step: 1, name: linger, action: linger}"),
            Self.playbook("watched-001", step: "{step: 1, name: linger, action: linger_when_held}"),
            Self.playbook("retry-fail-001", step: "{step: 1, name: fail, action: count_and_fail, retry: {attempts: 2, initial: 1h}}"),
            Self.playbook("retry-ok-001", step: "{step: 1, name: flaky, action: count_then_succeed, retry: {attempts: 3, initial: 1h}}"),
        ]
        for (index, text) in playbooks.enumerated() {
            try text.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        return Workspace(dir: dir)
    }

    /// Polls `probe` every 25 ms for at most 60 s (a bound for a slow machine, never a timing
    /// assertion); fails the test with `what` if it never gives a value.
    private func poll<T>(_ what: String, file: StaticString = #filePath, line: UInt = #line, _ probe: () throws -> T?) throws -> T {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if let value = try probe() { return value }
            usleep(25_000)
        }
        XCTFail("timed out waiting until \(what)", file: file, line: line)
        throw CocoaError(.executableLoad)
    }

    /// The live (not zombie) processes of session `sid`.
    private func liveProcesses(inSession sid: Int32) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { entry in
            guard Int32(entry) != nil, let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 3 && Int32(fields[3]) == sid && fields[0] != "Z"
        }
    }

    // MARK: - Stop signals

    func testSIGINTSIGTERMAndSIGHUPEachEndTheRunningStepsAndLeaveTheRunInterrupted() throws {
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            let ws = try workspace()
            let medic = try ws.start("linger-001")
            // The step writes its shell's pid (its session id) once it runs.
            let sid = try poll("the step of the run stopped by signal \(signo) started") { Int32(ws.logLines.first ?? "") }
            XCTAssertFalse(liveProcesses(inSession: sid).isEmpty, "the step runs (signal \(signo))")
            kill(medic.processIdentifier, signo)
            medic.waitUntilExit()
            XCTAssertEqual(medic.terminationStatus, 128 + signo, "exit status after signal \(signo)")
            // No process of the step's session is left: not the shell, not the sleeps it started.
            let left = try? poll("the step's session of signal \(signo) is gone") { liveProcesses(inSession: sid).isEmpty ? true : nil }
            XCTAssertNotNil(left, "processes of the step's session survived signal \(signo): \(liveProcesses(inSession: sid))")
            let runs = try ws.medic(["runs", "--json"])
            let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]], runs.stdout)
            XCTAssertEqual(listed.map { $0["status"] as? String }, ["interrupted"], "signal \(signo): \(runs.stdout)")
        }
    }

    func testSIGINTSIGTERMAndSIGHUPEachStopAWatchAndEndTheStepsOfItsRuns() throws {
        for signo in [SIGINT, SIGTERM, SIGHUP] {
            let ws = try workspace()
            // A succeeded run first, so that the watch's automated run is not a new incident type.
            XCTAssertEqual(try ws.medic(["run", "watched-001", "--root", ws.dir.path, "--param", "log=\(ws.log)"]).status, 0)
            XCTAssertTrue(FileManager.default.createFile(atPath: ws.log + ".hold", contents: nil))
            try FileManager.default.createDirectory(at: ws.dir.appendingPathComponent("rules"), withIntermediateDirectories: true)
            try """
                rules:
                  - name: disk-filling
                    metric: disk_usage_percent
                    detector: threshold
                    params: {op: ">", value: 85}
                    severity: SEV3
                    playbook: watched-001
                    parameters: {log: \(ws.log)}
                """.write(to: ws.dir.appendingPathComponent("rules/r.yaml"), atomically: true, encoding: .utf8)
            try #"{"disk_usage_percent": 97}"#.write(to: ws.dir.appendingPathComponent("values.json"), atomically: true, encoding: .utf8)
            try "metric_sources:\n  - {name: values, type: file, path: values.json, metrics: [disk_usage_percent]}\n"
                .write(to: ws.dir.appendingPathComponent("metrics.yaml"), atomically: true, encoding: .utf8)
            let watch = Process()
            watch.executableURL = Medic.binary
            watch.arguments = ["watch", "--interval", "200ms", "--root", ws.dir.path, "--state-dir", ws.state]
            watch.currentDirectoryURL = ws.dir
            watch.standardOutput = FileHandle.nullDevice
            watch.standardError = FileHandle.nullDevice
            try watch.run()
            let sid = try poll("the watched run's step started (signal \(signo))") { Int32(ws.logLines.first ?? "") }
            kill(watch.processIdentifier, signo)
            watch.waitUntilExit()
            XCTAssertEqual(watch.terminationStatus, 128 + signo, "exit status after signal \(signo)")
            let left = try? poll("the step's session of signal \(signo) is gone") { liveProcesses(inSession: sid).isEmpty ? true : nil }
            XCTAssertNotNil(left, "processes of the step's session survived signal \(signo): \(liveProcesses(inSession: sid))")
            let runs = try ws.medic(["runs", "--json"])
            let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(runs.stdout.utf8)) as? [[String: Any]], runs.stdout)
            XCTAssertEqual(listed.map { $0["status"] as? String }.sorted { ($0 ?? "") < ($1 ?? "") }, ["finished", "interrupted"],
                           "the seed run, and the watched run left interrupted (signal \(signo)): \(runs.stdout)")
        }
    }

    // MARK: - A scheduled retry

    /// Kills the run's Medic once its journal holds the retry it scheduled (Medic then waits an
    /// hour), and returns the run's id and journal.
    private func killWhileWaitingForTheRetry(_ ws: Workspace, _ playbook: String) throws -> (id: String, journal: String) {
        let medic = try ws.start(playbook)
        let journal = try poll("the run journaled its retry") { () -> String? in
            guard let path = try ws.journal(), try String(contentsOfFile: path, encoding: .utf8).contains(#""retry_scheduled""#) else { return nil }
            return path
        }
        kill(medic.processIdentifier, SIGKILL)
        medic.waitUntilExit()
        XCTAssertEqual(ws.logLines, ["attempt"], "one attempt before the kill")
        let retry = try XCTUnwrap(try RunEvidence.lines(journal).first { $0["event"] as? String == "retry_scheduled" })
        XCTAssertEqual(retry["attempt"] as? Int, 2, "the next attempt is 2")
        return (URL(fileURLWithPath: journal).deletingPathExtension().lastPathComponent, journal)
    }

    /// The attempt numbers of the step's `step_started` records, in journal order.
    private func attempts(_ journal: String) throws -> [Int] {
        try RunEvidence.lines(journal).filter { $0["event"] as? String == "step_started" && $0["phase"] as? String == "step" }
            .map { try XCTUnwrap($0["attempt"] as? Int) }
    }

    func testAResumedRunContinuesAtItsScheduledAttempt() throws {
        let ws = try workspace()
        let (id, journal) = try killWhileWaitingForTheRetry(ws, "retry-ok-001")
        // Attempt 2 runs at once (the wait was cut short by the kill) and succeeds.
        let resumed = try ws.medic(["resume", id], timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.logLines, ["attempt", "attempt"])
        XCTAssertEqual(try attempts(journal), [1, 2])
        let finished = try XCTUnwrap(try RunEvidence.lines(journal).last)
        XCTAssertEqual(finished["event"] as? String, "run_finished")
        XCTAssertEqual(finished["outcome"] as? String, "succeeded")
    }

    func testAResumedRetryKeepsItsAttemptCountAndStopsAtTheLast() throws {
        let ws = try workspace()
        let (id, journal) = try killWhileWaitingForTheRetry(ws, "retry-fail-001")
        // Attempt 2 of 2 fails: no retry is left. Were the count reset, attempt 1 would be run
        // again and another hour-long retry scheduled (the resume would not end).
        let resumed = try ws.medic(["resume", id], timeout: 120)
        XCTAssertEqual(resumed.status, 1, resumed.stdout + resumed.stderr)
        XCTAssertEqual(ws.logLines, ["attempt", "attempt"])
        XCTAssertEqual(try attempts(journal), [1, 2])
        let records = try RunEvidence.lines(journal)
        XCTAssertEqual(records.filter { $0["event"] as? String == "retry_scheduled" }.count, 1)
        let finished = try XCTUnwrap(records.last)
        XCTAssertEqual(finished["outcome"] as? String, "failed")
        XCTAssertTrue((finished["message"] as? String)?.contains("after 2 attempts") == true, "\(finished)")
    }
}
