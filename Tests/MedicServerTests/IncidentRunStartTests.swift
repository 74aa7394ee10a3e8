import Foundation
import MedicServeTestKit
import MedicEngine
import MedicServer
import XCTest

/// When an incident's run starts, and when it does not: a run picked up at a start holds its
/// fault as a run started by an alert does, and a run does not start once a person has taken
/// the incident on.
final class IncidentRunStartTests: XCTestCase {
    /// ServeTests' library with one manual run of linger-001 done (so safe mode lets its
    /// automated runs go); linger-001 waits for a `release` file.
    func workspace() throws -> ServeTests.Workspace { try ServeTests.workspace(for: self, seeds: [["linger-001"]]) }

    /// What a server killed between its answer and the run's start leaves: the incident of a
    /// firing `linger-001` alert, durable, and no journal. Its key and run id.
    func incidentWithoutItsRun(_ ws: ServeTests.Workspace, fingerprint: String) async throws -> (key: String, run: String) {
        let catalog = try CatalogStage().run(root: ws.dir.path)
        let (configuration, problems) = ServeConfiguration.load(path: ws.dir.appendingPathComponent("medic.yaml").path, catalog: catalog)
        XCTAssertEqual(problems.count, 0, "\(problems)")
        let intake = AlertIntake(catalog: catalog, configuration: try XCTUnwrap(configuration), store: try FileIncidentStore(stateDirectory: ws.state))
        let payload = try AlertmanagerPayload.decode(ServeTests.post(labels: ["alertname": "linger-001"], fingerprint: fingerprint))
        let outcomes = try await intake.accept(payload, now: Date())
        let outcome = try XCTUnwrap(outcomes.first)
        XCTAssertEqual(outcome.kind, .opened)
        return (outcome.key, try XCTUnwrap(outcome.incident?.runID))
    }

    func incident(_ ws: ServeTests.Workspace, _ key: String) -> [String: Any] {
        let data = FileManager.default.contents(atPath: ws.state + "/incidents/\(key).json") ?? Data()
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
    }

    func testARunPickedUpAtAStartHoldsItsFaultSoAnAlertForTheSameFaultFoldsIntoIt() async throws {
        let ws = try workspace()
        let (_, recovered) = try await incidentWithoutItsRun(ws, fingerprint: "recovered1")
        XCTAssertEqual(ws.journals, [])
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        _ = try await ServeProcess.poll("the picked-up run to start its step (stderr: \(serve.stderr))") { ws.effects.contains("started") ? true : nil }

        // Another alert for the same playbook on the same (local) target, while that run is going.
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "linger-001"], fingerprint: "another1"))
        XCTAssertEqual(answer.status, 200, answer.body)
        let opened = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
        XCTAssertEqual(opened["outcome"] as? String, "opened")
        XCTAssertEqual(opened["run"] as? String, recovered, "the alert folds into the run picked up at the start: \(answer.body)")
        // Of the same Alertmanager group too, so the group's rule says why (docs/serving.md, "Groups").
        XCTAssertTrue((opened["reason"] as? String ?? "").contains("folded into run \(recovered)"), answer.body)

        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let finished = try await ServeProcess.poll("run \(recovered) to finish (stderr: \(serve.stderr))") { ws.finished(recovered) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(recovered))")
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.journals, [recovered + ".jsonl"], "one run for the one fault")
        XCTAssertEqual(ws.effects, ["started", "released"])
    }

    func testTwoIncidentsOfOneFaultLeftWithoutTheirRunsMakeOneRunAtTheNextStart() async throws {
        let ws = try workspace()
        let one = try await incidentWithoutItsRun(ws, fingerprint: "first1")
        let other = try await incidentWithoutItsRun(ws, fingerprint: "second1")
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let run = try await ServeProcess.poll("a run to start (stderr: \(serve.stderr))") { ws.journals.first?.replacingOccurrences(of: ".jsonl", with: "") }
        let finished = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(run))")
        // The incident picked up second is folded into the run of the first, durably.
        let folded = run == one.run ? other.key : one.key
        XCTAssertTrue([one.run, other.run].contains(run), run)
        XCTAssertEqual(incident(ws, folded)["folded_into"] as? String, run, "\(incident(ws, folded))")
        XCTAssertEqual(incident(ws, folded)["run_id"] as? String, run)
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.journals, [run + ".jsonl"], "one run for the one fault")
    }

    func testARunWhoseIncidentAPersonAcknowledgedBeforeItStartedNeverStartsAndTheIncidentSaysWhy() async throws {
        let ws = try workspace()
        let (key, run) = try await incidentWithoutItsRun(ws, fingerprint: "taken1")
        let (acked, ackErr) = try MedicCommand.status(["ack", key, "--by", "erin", "--note", "fixing it by hand", "--state-dir", ws.state], in: ws.dir)
        XCTAssertEqual(acked, 0, ackErr)
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))

        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let reason = try await ServeProcess.poll("the incident to say why its run did not start (stderr: \(serve.stderr))") {
            (self.incident(ws, key)["reason"] as? String).flatMap { $0.contains("not started") ? $0 : nil }
        }
        XCTAssertTrue(reason.contains(run) && reason.contains("acknowledged by erin"), reason)
        // A restart does not start it either.
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        let again = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        _ = try await again.get("/healthz")
        let secondStatus = try await again.stop()
        XCTAssertEqual(secondStatus, 0, again.stderr)
        XCTAssertEqual(ws.journals, [], "no run started")
        XCTAssertEqual(ws.effects, [])
    }

    func testTheRunRecordsTheSeverityTheEscalationUsesTheLabelElseThePlaybooks() async throws {
        let ws = try workspace()
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        var severities: [String] = []
        for (fingerprint, labels) in [("nolabel1", ["alertname": "linger-001"]), ("label1", ["alertname": "linger-001", "severity": "critical"])] {
            let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: labels, fingerprint: fingerprint))
            let run = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
            _ = try await ServeProcess.poll("run \(run) to finish (stderr: \(serve.stderr))") { ws.finished(run) }
            let detection = try XCTUnwrap(ws.journal(run).first?["detection"] as? [String: Any], "\(ws.journal(run))")
            severities.append("\(detection["severity"] ?? "none")")
            // Resolved, so that the next alert of the same group leads it with a run of its own.
            let resolved = try await serve.post("/api/v1/alerts", body: ServeTests.post(status: "resolved", labels: labels, fingerprint: fingerprint))
            XCTAssertEqual(resolved.status, 200, resolved.body)
        }
        // linger-001 is a SEV3 playbook; `critical` is SEV0. Severity is written as its number or its code.
        XCTAssertTrue(["3", "SEV3"].contains(severities[0]), "without a label, the playbook's severity: \(severities)")
        XCTAssertTrue(["0", "SEV0"].contains(severities[1]), "the label first: \(severities)")
    }
}
