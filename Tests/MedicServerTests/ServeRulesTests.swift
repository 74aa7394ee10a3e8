import Foundation
import MedicServeTestKit
import XCTest

/// `medic serve` evaluates the library's anomaly rules over live metrics, and one fault seen by a
/// rule and by an alert (the same playbook on the same targets while a run for it is going)
/// makes one run, whichever trigger comes first.
final class ServeRulesTests: XCTestCase {
    /// ServeTests' library plus a rule starting linger-001 (which waits for a `release` file)
    /// when `fault_level` is above 0, read from `state.json` through the metric sources file.
    func workspace(faultLevel: Int, withRule: Bool = true) throws -> ServeTests.Workspace {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-rules-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try Self.writeLibrary(in: dir)
        try ServeTests.config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        if withRule { try Self.rule.write(to: dir.appendingPathComponent("rules/fault.yaml"), atomically: true, encoding: .utf8) }
        try setFault(faultLevel, in: dir)
        var ws = ServeTests.Workspace(dir: dir)
        // One manual run first, so that safe mode lets automated runs of linger-001 go.
        let release = dir.appendingPathComponent("release").path
        XCTAssertTrue(FileManager.default.createFile(atPath: release, contents: nil))
        let (status, stderr) = try MedicCommand.status(["run", "linger-001", "--root", dir.path, "--state-dir", ws.state, "--workdir", dir.path], in: dir)
        XCTAssertEqual(status, 0, "seed run: \(stderr)")
        try FileManager.default.removeItem(atPath: release)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("effects.log"))
        ws.seeded = ws.journals
        return ws
    }

    static let rule = """
        rules:
          - name: fault-seen
            metric: fault_level
            detector: threshold
            params: {op: ">", value: 0}
            severity: SEV3
            playbook: linger-001
        """

    func setFault(_ level: Int, in dir: URL) throws {
        try "{\"fault_level\": \(level)}".write(to: dir.appendingPathComponent("state.json"), atomically: true, encoding: .utf8)
    }

    func arguments(_ ws: ServeTests.Workspace) -> [String] {
        ws.arguments + ["--metrics", ws.dir.appendingPathComponent("metrics.yaml").path, "--interval", "100ms"]
    }

    func testARuleFiringStartsItsPlaybookAndAnAlertForTheSameFaultFoldsIntoThatRun() async throws {
        let ws = try workspace(faultLevel: 1)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: arguments(ws))
        _ = try await ServeProcess.poll("the rules to be watched (stderr: \(serve.stderr))") { serve.stderr.contains("rules: watching 1 series") ? true : nil }
        let ruleRun = try await ServeProcess.poll("the rule's run (stderr: \(serve.stderr))") { ws.journals.first?.replacingOccurrences(of: ".jsonl", with: "") }
        _ = try await ServeProcess.poll("the rule's run to start its step") { ws.effects.contains("started") ? true : nil }
        XCTAssertEqual((ws.journal(ruleRun).first?["detection"] as? [String: Any])?["rule"] as? String, "fault-seen", "\(ws.journal(ruleRun))")

        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "linger-001"]))
        XCTAssertEqual(answer.status, 200, answer.body)
        let incident = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
        XCTAssertEqual(incident["outcome"] as? String, "opened")
        XCTAssertEqual(incident["run"] as? String, ruleRun, "the alert's incident is the rule's run: \(answer.body)")
        XCTAssertTrue((incident["reason"] as? String ?? "").contains("folded into it"), answer.body)

        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let finished = try await ServeProcess.poll("run \(ruleRun) to finish (stderr: \(serve.stderr))") { ws.finished(ruleRun) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(ruleRun))")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.journals, [ruleRun + ".jsonl"], "one run for the one fault")
        XCTAssertEqual(ws.effects, ["started", "released"])
    }

    func testAnAlertsRunGoingTakesTheRuleFiringForTheSameFault() async throws {
        let ws = try workspace(faultLevel: 0)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: arguments(ws))
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "linger-001"]))
        let alertRun = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
        _ = try await ServeProcess.poll("the alert's run to start its step") { ws.effects.contains("started") ? true : nil }

        try setFault(1, in: ws.dir)
        _ = try await ServeProcess.poll("the rule's firing to fold (stderr: \(serve.stderr))") {
            serve.stderr.contains("rule fault-seen folded into run \(alertRun)") ? true : nil
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let finished = try await ServeProcess.poll("run \(alertRun) to finish (stderr: \(serve.stderr))") { ws.finished(alertRun) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(alertRun))")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.journals, [alertRun + ".jsonl"], "one run for the one fault")
    }

    func testNoRulesLeavesTheRulesOut() async throws {
        let ws = try workspace(faultLevel: 1)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: arguments(ws) + ["--no-rules"])
        XCTAssertFalse(serve.stderr.contains("rules: watching"), serve.stderr)
        // An alert's run proves the server is up and acting; the rule would have fired by then.
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "linger-001"]))
        let run = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
        _ = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.journals, [run + ".jsonl"], "no rule run")
        XCTAssertFalse(serve.stderr.contains("fault-seen"), serve.stderr)
    }

    func testSIGHUPPutsTheRulesOfTheReloadedLibraryInForce() async throws {
        let ws = try workspace(faultLevel: 1, withRule: false)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: arguments(ws))
        _ = try await ServeProcess.poll("the rules to be looked for (stderr: \(serve.stderr))") { serve.stderr.contains("rules: none in the library") ? true : nil }
        XCTAssertEqual(ws.journals, [], "no rule, no run")
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        try Self.rule.write(to: ws.dir.appendingPathComponent("rules/fault.yaml"), atomically: true, encoding: .utf8)
        kill(serve.process.processIdentifier, SIGHUP)
        let run = try await ServeProcess.poll("the new rule's run (stderr: \(serve.stderr))") { ws.journals.first?.replacingOccurrences(of: ".jsonl", with: "") }
        let finished = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(run))")
        XCTAssertEqual((ws.journal(run).first?["detection"] as? [String: Any])?["rule"] as? String, "fault-seen")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
    }

    /// The serve tests' actions and playbooks in `dir`, with `rules/` (and `folders`) ready, and
    /// a metric source reading `fault_level` from `state.json` there.
    static func writeLibrary(in dir: URL, folders: [String] = []) throws {
        for folder in ["actions", "playbooks", "rules"] + folders {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in ServeTests.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        try """
            metric_sources:
              - {name: state, type: file, path: state.json, metrics: [fault_level]}
            """.write(to: dir.appendingPathComponent("metrics.yaml"), atomically: true, encoding: .utf8)
    }

}
