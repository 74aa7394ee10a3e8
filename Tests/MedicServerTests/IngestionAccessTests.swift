import Foundation
import MedicServeTestKit
import XCTest

/// The ingestion routes (`POST /api/v1/alerts`, `POST /api/v1/events`) and the read-only
/// `/metrics` and `/api/v1/health` over real HTTP: behind the `sender` and `viewer` roles when
/// tokens are configured, open on loopback without them.
final class IngestionAccessTests: XCTestCase {
    /// A firing alert whose `alertname` is the playbook `plain-001` of the API workspace.
    static let alert = ServeTests.post(labels: ["alertname": "plain-001", "instance": "web-01"])
    static let event = ImmuneEventTests.event(["id": "evt-ingest", "severity": "INFO", "type": "SELF_HEALING_ACTION", "message": "ok"])

    static func incidents(_ ws: APIWorkspace) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: ws.state + "/incidents")) ?? []).filter { $0.hasSuffix(".json") }
    }

    static func events(_ ws: APIWorkspace) -> String {
        (try? String(contentsOfFile: ws.state + "/events/events.jsonl", encoding: .utf8)) ?? ""
    }

    /// Polls (bounded) until the run has its first journal record.
    static func waitForRun(_ ws: APIWorkspace, _ runID: String, serve: ServeProcess) async throws {
        let deadline = Date().addingTimeInterval(60)
        while !ws.journal(runID).contains(where: { $0["event"] as? String == "run_started" }) {
            guard Date() < deadline else { return XCTFail("run \(runID) did not start in 60 s (stderr: \(serve.stderr))") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    func testWithTokensAlertsAndEventsNeedASenderAndMetricsAndHealthAViewer() async throws {
        let ws = try APIWorkspace(self)
        let viewer = try ws.token("prometheus", "viewer")
        let sender = try ws.token("alertmanager", "sender")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])

        let anonymous = try await serve.call(.POST, "/api/v1/alerts", raw: Self.alert)
        XCTAssertEqual(anonymous.status, 401, anonymous.body)
        XCTAssertTrue(anonymous.headers["WWW-Authenticate"].first?.hasPrefix("Bearer") == true, "\(anonymous.headers)")
        let read = try await serve.call(.POST, "/api/v1/alerts", token: viewer, raw: Self.alert)
        XCTAssertEqual(read.status, 403, read.body)
        XCTAssertTrue(Self.incidents(ws).isEmpty, "a refused alert opens no incident: \(Self.incidents(ws))")

        let sent = try await serve.call(.POST, "/api/v1/alerts", token: sender, raw: Self.alert)
        XCTAssertEqual(sent.status, 200, sent.body)
        let incident = try XCTUnwrap((sent.json["incidents"] as? [[String: Any]])?.first, sent.body)
        XCTAssertEqual(incident["outcome"] as? String, "opened", sent.body)
        try await Self.waitForRun(ws, try XCTUnwrap(incident["run"] as? String, sent.body), serve: serve)
        XCTAssertEqual(Self.incidents(ws).count, 1)

        for (token, status) in [(nil, 401), (viewer, 403)] {
            let refused = try await serve.call(.POST, "/api/v1/events", token: token, raw: Self.event)
            XCTAssertEqual(refused.status, status, refused.body)
        }
        XCTAssertEqual(Self.events(ws), "", "a refused event is not stored")
        let stored = try await serve.call(.POST, "/api/v1/events", token: sender, raw: Self.event)
        XCTAssertEqual(stored.status, 201, stored.body)

        for path in ["/metrics", "/api/v1/health"] {
            let refused = try await serve.call(.GET, path)
            XCTAssertEqual(refused.status, 401, "\(path): \(refused.body)")
            let allowed = try await serve.call(.GET, path, token: viewer)
            XCTAssertEqual(allowed.status, 200, "\(path): \(allowed.body)")
        }
        for path in ["/healthz", "/readyz"] {
            let open = try await serve.call(.GET, path)
            XCTAssertEqual(open.status, 200, "\(path): \(open.body)")
        }
        // A sender posts and reads, nothing more.
        let flip = try await serve.call(.PUT, "/api/v1/switches/kill_switch", token: sender, json: ["reason": "x"])
        XCTAssertEqual(flip.status, 403, flip.body)
    }

    func testWithoutTokensAlertsEventsAndMetricsStayOpenOnLoopback() async throws {
        let ws = try APIWorkspace(self)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let sent = try await serve.call(.POST, "/api/v1/alerts", raw: Self.alert)
        XCTAssertEqual(sent.status, 200, sent.body)
        let incident = try XCTUnwrap((sent.json["incidents"] as? [[String: Any]])?.first, sent.body)
        XCTAssertEqual(incident["outcome"] as? String, "opened", sent.body)
        try await Self.waitForRun(ws, try XCTUnwrap(incident["run"] as? String, sent.body), serve: serve)
        let stored = try await serve.call(.POST, "/api/v1/events", raw: Self.event)
        XCTAssertEqual(stored.status, 201, stored.body)
        for path in ["/metrics", "/api/v1/health"] {
            let open = try await serve.call(.GET, path)
            XCTAssertEqual(open.status, 200, "\(path): \(open.body)")
        }
    }

    func testTokenCreateTakesTheSenderRole() throws {
        let ws = try APIWorkspace(self)
        _ = try ws.token("alertmanager", "sender")
        let (status, stderr) = try MedicCommand.status(["token", "create", "x", "--role", "boss", "--tokens", ws.tokensFile], in: ws.dir)
        XCTAssertEqual(status, 2, stderr)
        XCTAssertTrue(stderr.contains("sender"), "the roles are listed: \(stderr)")
    }
}
