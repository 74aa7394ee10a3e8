import Foundation
import MedicServeTestKit
import MedicEngine
import MedicServer
import XCTest

/// A route with candidates (`playbooks: [a, b]`): the engine's playbook selection ranks them by
/// the knowledge base when the incident opens, the incident keeps the playbook chosen with the
/// ranking, and a restart carries out that decision whatever the knowledge base says by then.
/// The `medic serve` binary over real HTTP; the history made by real `medic run`s.
final class CandidateRankingTests: XCTestCase {
    static let actions = """
        actions:
          fail_a:
            type: infrastructure
            risk_level: low
            implementation: |
              echo "a ran" >> effects.log
              exit 1
          fix_b:
            type: infrastructure
            risk_level: low
            implementation: echo "b ran" >> effects.log
        """

    static func playbook(_ id: String, action: String) -> String {
        """
        playbook_id: \(id)
        name: \(id)
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: \(action), action: \(action)}
        metadata: {}
        """
    }

    /// Candidate a-001 is written first: with no history the tie goes to it.
    static let config = """
        routes:
          - match: {alertname: Flaky}
            playbooks: [a-001, b-001]
        """

    struct Workspace {
        let dir: URL
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path] }
        var effects: [String] {
            ((try? String(contentsOf: dir.appendingPathComponent("effects.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }

        func finished(_ runID: String) -> [String: Any]? {
            let text = (try? String(contentsOfFile: state + "/runs/\(runID).jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["event"] as? String == "run_finished" }
        }
    }

    /// The library, with one run by hand of each candidate: a-001 failed, b-001 succeeded.
    func workspace() throws -> Workspace {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-ranking-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try Self.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook("a-001", action: "fail_a").write(to: dir.appendingPathComponent("playbooks/a.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook("b-001", action: "fix_b").write(to: dir.appendingPathComponent("playbooks/b.yaml"), atomically: true, encoding: .utf8)
        try Self.config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let ws = Workspace(dir: dir)
        let run = ["--root", dir.path, "--state-dir", ws.state, "--workdir", dir.path]
        let (failed, failedErrors) = try MedicCommand.status(["run", "a-001"] + run, in: dir)
        XCTAssertNotEqual(failed, 0, "the seed run of a-001 must fail: \(failedErrors)")
        let (succeeded, errors) = try MedicCommand.status(["run", "b-001"] + run, in: dir)
        XCTAssertEqual(succeeded, 0, "the seed run of b-001 must succeed: \(errors)")
        XCTAssertEqual(ws.effects, ["a ran", "b ran"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("effects.log"))
        return ws
    }

    func testTheCandidateTheKnowledgeBaseRanksFirstRunsAndItsRankingSurvivesARestart() async throws {
        let ws = try workspace()
        var serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "Flaky"], fingerprint: "r1"))
        XCTAssertEqual(answer.status, 200, answer.body)
        let opened = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
        XCTAssertEqual(opened["playbook"] as? String, "b-001", "b-001 succeeded before and a-001 failed: \(answer.body)")
        let key = try XCTUnwrap(opened["key"] as? String)
        let runID = try XCTUnwrap(opened["run"] as? String)
        let finished = try await ServeProcess.poll("run \(runID) to finish (stderr: \(serve.stderr))") { ws.finished(runID) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded")
        XCTAssertEqual(ws.effects, ["b ran"])

        let got = try await serve.get("/api/v1/incidents/\(key)")
        XCTAssertEqual(got.status, 200, got.body)
        let incident = try XCTUnwrap(got.json["incident"] as? [String: Any], got.body)
        XCTAssertEqual(incident["playbook"] as? String, "b-001")
        let ranking = try XCTUnwrap(incident["ranking"] as? [String: Any], got.body)
        XCTAssertEqual(ranking["chosen"] as? String, "b-001")
        let candidates = try XCTUnwrap(ranking["candidates"] as? [[String: Any]])
        XCTAssertEqual(candidates.map { $0["playbook"] as? String }, ["b-001", "a-001"], got.body)
        XCTAssertEqual(candidates.map { $0["rank"] as? Int }, [1, 2])
        let scores = candidates.compactMap { $0["score"] as? Double }
        XCTAssertEqual(scores.count, 2)
        XCTAssertGreaterThan(scores[0], scores[1], got.body)
        for candidate in candidates {
            XCTAssertTrue((candidate["why"] as? String ?? "").contains("success_rate"), "\(candidate)")
            XCTAssertFalse((candidate["parts"] as? [Any] ?? []).isEmpty, "\(candidate)")
        }
        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)

        // The knowledge base forgotten: ranked now, the tie would go to a-001 (written first).
        try FileManager.default.removeItem(atPath: ws.state + "/knowledge")
        serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let again = try await serve.get("/api/v1/incidents/\(key)")
        XCTAssertEqual(again.status, 200, again.body)
        let kept = try XCTUnwrap(again.json["incident"] as? [String: Any], again.body)
        XCTAssertEqual(kept["playbook"] as? String, "b-001")
        XCTAssertEqual(kept["ranking"] as? NSDictionary, ranking as NSDictionary, "the ranking stored is the one made at the opening")
        let fresh = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "Flaky"], fingerprint: "r2"))
        XCTAssertEqual((fresh.json["incidents"] as? [[String: Any]])?.first?["playbook"] as? String, "a-001",
                       "a new incident is ranked with the knowledge base as it is now: \(fresh.body)")
        XCTAssertEqual(ws.effects.filter { $0 == "b ran" }.count, 1, "the first incident's run is not started again")
    }

    /// An incident opened (durable) by a server stopped before its run started: the next server
    /// starts the playbook fixed in the incident, not a ranking made anew.
    func testARunLeftUnstartedRunsThePlaybookChosenAtTheOpening() async throws {
        let ws = try workspace()
        let catalog = try CatalogStage().run(root: ws.dir.path)
        let (configuration, diagnostics) = ServeConfiguration.load(path: ws.dir.appendingPathComponent("medic.yaml").path, catalog: catalog)
        XCTAssertEqual(diagnostics, [])
        let ranker = CandidateRanker(knowledge: StateStores.knowledge(in: ws.state))
        let intake = AlertIntake(library: ServedLibrary(catalog: catalog, configuration: try XCTUnwrap(configuration)),
                                 store: try FileIncidentStore(stateDirectory: ws.state), ranker: ranker)
        let payload = try AlertmanagerPayload.decode(ServeTests.post(labels: ["alertname": "Flaky"], fingerprint: "r3"))
        let outcomes = try await intake.accept(payload, now: Date())
        let incident = try XCTUnwrap(outcomes.first?.incident)
        XCTAssertEqual(incident.playbook, "b-001")
        XCTAssertEqual(incident.ranking?.candidates.map(\.playbook), ["b-001", "a-001"])
        try FileManager.default.removeItem(atPath: ws.state + "/knowledge")

        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let runID = try XCTUnwrap(incident.runID)
        let finished = try await ServeProcess.poll("run \(runID) to finish (stderr: \(serve.stderr))") { ws.finished(runID) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded")
        XCTAssertEqual(ws.effects, ["b ran"])
    }
}
