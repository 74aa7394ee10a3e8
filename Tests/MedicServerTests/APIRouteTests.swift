import Foundation
import MedicServeTestKit
import XCTest

/// The REST API's routes over real HTTP against the `medic serve` binary, each with its role.
final class APIRouteTests: XCTestCase {
    func testAnApprovalIsJournaledUnderTheTokensNameWhateverTheBodyClaims() async throws {
        let ws = try APIWorkspace(self)
        let alice = try ws.token("alice", "approver")
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let reply = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: alice, json: ["by": "mallory", "reason": "checked"])
        XCTAssertEqual(reply.status, 200, reply.body)
        XCTAssertEqual(reply.json["approved_by"] as? String, "alice", reply.body)
        let given = try XCTUnwrap(ws.journal(run).first { $0["event"] as? String == "approval_given" }, "journaled before the answer")
        XCTAssertEqual(given["by"] as? String, "alice")
        let outcome = try await ServeProcess.poll("the approved run to finish (stderr: \(serve.stderr))") { ws.outcome(run) }
        XCTAssertEqual(outcome, "succeeded")
        XCTAssertEqual(ws.effects, ["approve-001"])
        XCTAssertFalse(ws.journal(run).contains { $0["by"] as? String == "mallory" }, "\(ws.journal(run))")
        XCTAssertEqual(ws.audit.filter { $0["event"] as? String == "approved" }.map { $0["by"] as? String }, ["alice"], "\(ws.audit)")
        let again = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: alice, json: [:])
        XCTAssertEqual(again.status, 409, "the run is not waiting any more: \(again.body)")
    }

    func testTwoSignOffsTakeTwoDifferentApprovers() async throws {
        let ws = try APIWorkspace(self)
        let erin = try ws.token("erin", "approver")
        let finn = try ws.token("finn", "approver")
        let run = try ws.pendingRun("signed-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let first = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: erin, json: ["role": "sre_lead"])
        XCTAssertEqual(first.status, 200, first.body)
        _ = try await ServeProcess.poll("the run to wait again") { () -> Bool? in
            ws.journal(run).contains { $0["event"] as? String == "approval_given" } && ws.outcome(run) == nil ? true : nil
        }
        let shown = try await serve.call(.GET, "/api/v1/runs/\(run)", token: erin)
        XCTAssertEqual(shown.json["status"] as? String, "pending_approval", "one sign-off of two: \(shown.body)")
        let twice = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: erin, json: ["role": "engineering_manager"])
        XCTAssertEqual(twice.status, 409, "one person signs off once: \(twice.body)")
        XCTAssertEqual(ws.effects, [])
        let second = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: finn, json: ["role": "engineering_manager"])
        XCTAssertEqual(second.status, 200, second.body)
        let outcome = try await ServeProcess.poll("the signed run to finish (stderr: \(serve.stderr))") { ws.outcome(run) }
        XCTAssertEqual(outcome, "succeeded", "\(ws.journal(run))")
        XCTAssertEqual(ws.effects, ["signed-001", "signed-001"], "the step, on each of the two targets")
    }

    func testTheRequesterOfARunCannotApproveItAnotherApproverMust() async throws {
        let ws = try APIWorkspace(self)
        let alice = try ws.token("alice", "operator", "approver")
        let bob = try ws.token("bob", "approver")
        let viewer = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let refused = try await serve.call(.POST, "/api/v1/runs", token: viewer, json: ["playbook": "approve-001"])
        XCTAssertEqual(refused.status, 403, "requesting a run is an operator's: \(refused.body)")
        let requested = try await serve.call(.POST, "/api/v1/runs", token: alice, json: ["playbook": "approve-001"])
        XCTAssertEqual(requested.status, 202, requested.body)
        XCTAssertEqual(requested.json["requested_by"] as? String, "alice", requested.body)
        let run = try XCTUnwrap(requested.json["run"] as? String, requested.body)
        let waiting = try await ServeProcess.poll("the requested run to wait for approval") { () -> Bool? in
            ws.journal(run).contains { $0["event"] as? String == "approval_requested" } ? true : nil
        }
        XCTAssertTrue(waiting)
        let own = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: alice, json: ["reason": "mine, and fine"])
        XCTAssertEqual(own.status, 403, own.body)
        XCTAssertFalse(ws.journal(run).contains { $0["event"] as? String == "approval_given" }, "\(ws.journal(run))")
        XCTAssertEqual(ws.effects, [])
        let other = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: bob, json: ["reason": "checked"])
        XCTAssertEqual(other.status, 200, other.body)
        let outcome = try await ServeProcess.poll("the run to finish (stderr: \(serve.stderr))") { ws.outcome(run) }
        XCTAssertEqual(outcome, "succeeded")
        XCTAssertEqual(ws.effects, ["approve-001"])
        let plain = try await serve.call(.POST, "/api/v1/runs", token: alice, json: ["playbook": "plain-001"])
        let plainRun = try XCTUnwrap(plain.json["run"] as? String, plain.body)
        let plainOutcome = try await ServeProcess.poll("a run needing no approval to finish") { ws.outcome(plainRun) }
        XCTAssertEqual(plainOutcome, "succeeded")
        let unknown = try await serve.call(.POST, "/api/v1/runs", token: alice, json: ["playbook": "nope-001"])
        XCTAssertEqual(unknown.status, 404, unknown.body)
    }

    func testDenyNeedsAReasonEndsTheRunAndIsAudited() async throws {
        let ws = try APIWorkspace(self)
        let carol = try ws.token("carol", "approver")
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let bare = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: carol)
        XCTAssertEqual(bare.status, 400, bare.body)
        XCTAssertEqual(bare.json["field"] as? String, "reason", bare.body)
        let wrong = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: carol, json: ["reason": 7])
        XCTAssertEqual(wrong.json["field"] as? String, "reason", wrong.body)
        let unknown = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: carol, json: ["reason": "x", "urgent": true])
        XCTAssertEqual(unknown.status, 400, unknown.body)
        XCTAssertEqual(unknown.json["field"] as? String, "urgent", unknown.body)
        let missing = try await serve.call(.POST, "/api/v1/runs/20991231-000000-ffffffff/deny", token: carol, json: ["reason": "x"])
        XCTAssertEqual(missing.status, 404, missing.body)
        XCTAssertNil(ws.outcome(run), "bad requests change nothing")
        let denied = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: carol, json: ["reason": "not during the sale", "by": "dave"])
        XCTAssertEqual(denied.status, 200, denied.body)
        let outcome = try await ServeProcess.poll("the denied run to end") { ws.outcome(run) }
        XCTAssertEqual(outcome, "refused")
        let record = try XCTUnwrap(ws.audit.first { $0["event"] as? String == "denied" }, "\(ws.audit)")
        XCTAssertEqual(record["by"] as? String, "carol")
        let late = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: carol, json: ["reason": "again"])
        XCTAssertEqual(late.status, 409, late.body)
        XCTAssertEqual(ws.effects, [])
    }

    func testRunsAreListedWithTheirFiltersAndOneRunWithItsTimeline() async throws {
        let ws = try APIWorkspace(self)
        let vic = try ws.token("vic", "viewer")
        let pending = try ws.pendingRun("approve-001")
        XCTAssertFalse(try MedicCommand.run(["run", "plain-001"] + ws.arguments, in: ws.dir).isEmpty)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        func ids(_ query: String) async throws -> [String] {
            let reply = try await serve.call(.GET, "/api/v1/runs" + query, token: vic)
            XCTAssertEqual(reply.status, 200, reply.body)
            return (reply.json["runs"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        let all = try await ids("")
        XCTAssertEqual(all.count, 2)
        let byPlaybook = try await ids("?playbook=approve-001")
        XCTAssertEqual(byPlaybook, [pending])
        let waiting = try await ids("?status=pending_approval")
        XCTAssertEqual(waiting, [pending])
        let finished = try await ids("?status=finished")
        XCTAssertEqual(finished.count, 1)
        let newest = try await ids("?limit=1")
        XCTAssertEqual(newest, [all[0]])
        let future = try await ids("?since=2999-01-01T00:00:00Z")
        XCTAssertEqual(future, [])
        let past = try await ids("?since=2000-01-01T00:00:00Z")
        XCTAssertEqual(past.count, 2)
        for (query, field) in [("?status=sleeping", "status"), ("?limit=0", "limit"), ("?limit=many", "limit"), ("?since=yesterday", "since")] {
            let reply = try await serve.call(.GET, "/api/v1/runs" + query, token: vic)
            XCTAssertEqual(reply.status, 400, "\(query): \(reply.body)")
            XCTAssertEqual(reply.json["field"] as? String, field, reply.body)
        }
        let one = try await serve.call(.GET, "/api/v1/runs/\(pending)", token: vic)
        XCTAssertEqual(one.status, 200, one.body)
        let timeline = try XCTUnwrap(one.json["timeline"] as? [[String: Any]], one.body)
        XCTAssertEqual(timeline.first?["event"] as? String, "run_started")
        XCTAssertTrue(timeline.contains { $0["event"] as? String == "approval_requested" }, one.body)
        XCTAssertEqual((one.json["run"] as? [String: Any])?["playbook_id"] as? String ?? (one.json["run"] as? [String: Any])?["playbook"] as? String,
                       "approve-001", one.body)
        let none = try await serve.call(.GET, "/api/v1/runs/no-such-run", token: vic)
        XCTAssertEqual(none.status, 404, none.body)
    }

    func testSwitchesAndBreakerResetsGoThroughTheFlagsUnderTheOperatorsNameAndAreAudited() async throws {
        let ws = try APIWorkspace(self)
        let otto = try ws.token("otto", "operator")
        let root = try ws.token("root", "admin")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let on = try await serve.call(.PUT, "/api/v1/switches/kill_switch", token: otto, json: ["reason": "incident 7", "by": "eve"])
        XCTAssertEqual(on.status, 200, on.body)
        let switches = try await serve.call(.GET, "/api/v1/switches", token: otto)
        let kill = try XCTUnwrap((switches.json["switches"] as? [String: Any])?["kill_switch"] as? [String: Any], switches.body)
        XCTAssertEqual(kill["on"] as? Bool, true)
        XCTAssertEqual(kill["by"] as? String, "otto")
        let status = try MedicCommand.run(["run", "plain-001", "--json"] + ws.arguments, in: ws.dir)
        XCTAssertTrue(status.contains("kill_switch"), "the CLI's runs see the switch: \(status)")
        XCTAssertEqual(ws.effects, [])
        let off = try await serve.call(.DELETE, "/api/v1/switches/kill_switch", token: otto)
        XCTAssertEqual(off.json["was_on"] as? Bool, true, off.body)
        let safe = try await serve.call(.PUT, "/api/v1/switches/safe_mode", token: root)
        XCTAssertEqual(safe.status, 200, safe.body)
        let unknown = try await serve.call(.PUT, "/api/v1/switches/maintenance", token: otto)
        XCTAssertEqual(unknown.status, 404, unknown.body)
        let reset = try await serve.call(.POST, "/api/v1/breakers/plain-001/reset", token: otto, json: ["reason": "fixed the disk"])
        XCTAssertEqual(reset.status, 200, reset.body)
        let noPlaybook = try await serve.call(.POST, "/api/v1/breakers/nope-001/reset", token: otto)
        XCTAssertEqual(noPlaybook.status, 404, noPlaybook.body)
        let breakers = try await serve.call(.GET, "/api/v1/breakers", token: otto)
        XCTAssertEqual(breakers.status, 200, breakers.body)
        XCTAssertEqual((breakers.json["breakers"] as? [[String: Any]])?.first { $0["playbook"] as? String == "plain-001" }?["reset_by"] as? String,
                       "otto", breakers.body)
        let audited = ws.audit.map { "\($0["event"] as? String ?? "?") by \($0["by"] as? String ?? "?")" }
        XCTAssertEqual(audited.count, 4, "\(ws.audit)")
        XCTAssertEqual(Set(audited.map { $0.components(separatedBy: " by ")[1] }), ["otto", "root"], "\(audited)")
        XCTAssertFalse(ws.audit.contains { $0["by"] as? String == "eve" })
    }

    func testAPlanGivesEveryGatesVerdictAndBadRequestsTheirCodes() async throws {
        let ws = try APIWorkspace(self)
        let vic = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let reply = try await serve.call(.POST, "/api/v1/plans", token: vic, json: ["playbook": "approve-001"])
        XCTAssertEqual(reply.status, 200, reply.body)
        let plan = try XCTUnwrap(reply.json["plan"] as? [String: Any], reply.body)
        let gates = try XCTUnwrap(plan["gates"] as? [[String: Any]], reply.body)
        XCTAssertTrue(gates.contains { $0["gate"] as? String == "approval" && $0["decision"] as? String == "needs_approval" }, reply.body)
        XCTAssertTrue(gates.contains { $0["gate"] as? String == "kill_switch" }, reply.body)
        XCTAssertEqual(ws.effects, [], "a plan runs nothing")
        let cases: [(json: [String: Any], status: Int, field: String?)] = [
            ([:], 400, "playbook"), (["playbook": 3], 400, "playbook"), (["playbook": "nope-001"], 404, nil),
            (["playbook": "plain-001", "parameters": ["x": 1]], 400, "parameters.x"), (["playbook": "plain-001", "mode": "yolo"], 400, "mode"),
            (["playbook": "plain-001", "colour": "red"], 400, "colour"),
        ]
        for (json, status, field) in cases {
            let bad = try await serve.call(.POST, "/api/v1/plans", token: vic, json: json)
            XCTAssertEqual(bad.status, status, "\(json): \(bad.body)")
            XCTAssertEqual(bad.json["field"] as? String, field, "\(json): \(bad.body)")
        }
        let notJSON = try await serve.call(.POST, "/api/v1/plans", token: vic, raw: Data("{\"playbook\":".utf8))
        XCTAssertEqual(notJSON.status, 400, notJSON.body)
        let text = try await serve.call(.POST, "/api/v1/plans", token: vic, raw: Data("{}".utf8), contentType: "text/plain")
        XCTAssertEqual(text.status, 415, text.body)
        let huge = try await serve.call(.POST, "/api/v1/plans", token: vic, raw: Data(repeating: UInt8(ascii: " "), count: 2 << 20))
        XCTAssertEqual(huge.status, 413, huge.body)
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
    }

    func testIncidentsAreListedNewestFirstWithTheirStatusFilter() async throws {
        let ws = try APIWorkspace(self)
        let vic = try ws.token("vic", "viewer")
        let sender = try ws.token("alertmanager", "sender")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        let posted = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "DiskFull"], fingerprint: "f1"), token: sender)
        XCTAssertEqual(posted.status, 200, posted.body)
        let list = try await serve.call(.GET, "/api/v1/incidents", token: vic)
        XCTAssertEqual(list.status, 200, list.body)
        let incidents = try XCTUnwrap(list.json["incidents"] as? [[String: Any]], list.body)
        XCTAssertEqual(incidents.count, 1)
        XCTAssertEqual(incidents.first?["fingerprint"] as? String, "f1", list.body)
        let resolved = try await serve.call(.GET, "/api/v1/incidents?status=resolved", token: vic)
        XCTAssertEqual((resolved.json["incidents"] as? [Any])?.count, 0, resolved.body)
        let bad = try await serve.call(.GET, "/api/v1/incidents?status=open", token: vic)
        XCTAssertEqual(bad.status, 400, bad.body)
        XCTAssertEqual(bad.json["field"] as? String, "status")
        let anonymous = try await serve.call(.GET, "/api/v1/incidents")
        XCTAssertEqual(anonymous.status, 401)
    }
}
