import Foundation
import MedicServeTestKit
import MedicServer
import XCTest

/// Bearer tokens and roles over real HTTP against the `medic serve` binary.
final class APIAccessTests: XCTestCase {
    func testTokenCreateKeepsOnlyTheHashInAFileOnlyItsOwnerCanRead() throws {
        let ws = try APIWorkspace(self)
        let token = try ws.token("alice", "approver", "viewer")
        let text = try String(contentsOfFile: ws.tokensFile, encoding: .utf8)
        XCTAssertFalse(text.contains(token), "the token itself is never stored: \(text)")
        XCTAssertFalse(text.contains(String(token.dropFirst("medic_".count))), text)
        let mode = try XCTUnwrap(try FileManager.default.attributesOfItem(atPath: ws.tokensFile)[.posixPermissions] as? NSNumber)
        XCTAssertEqual(mode.intValue & 0o777, 0o600)
        let tokens = try AccessTokens.load(path: ws.tokensFile)
        XCTAssertEqual(tokens.identity(of: token), AccessIdentity(name: "alice", roles: [.approver, .viewer]))
        XCTAssertNil(tokens.identity(of: token + "x"))
        let second = try ws.token("bob", "viewer")
        XCTAssertNotEqual(second, token)
        let (again, stderr) = try MedicCommand.status(["token", "create", "alice", "--role", "viewer", "--tokens", ws.tokensFile], in: ws.dir)
        XCTAssertEqual(again, 1, "a name is given once: \(stderr)")
        let (badRole, roleError) = try MedicCommand.status(["token", "create", "carol", "--role", "boss", "--tokens", ws.tokensFile], in: ws.dir)
        XCTAssertEqual(badRole, 2, roleError)
        XCTAssertEqual(try AccessTokens.load(path: ws.tokensFile).entries.map(\.name), ["alice", "bob"], "refusals change nothing")
    }

    func testNoTokenOrABadTokenIs401WithWWWAuthenticate() async throws {
        let ws = try APIWorkspace(self)
        let token = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        for (what, bearer) in [("no token", nil), ("a bad token", "medic_0000"), ("the token with a letter changed", String(token.dropLast()) + "x")] {
            let reply = try await serve.call(.GET, "/api/v1/runs", token: bearer)
            XCTAssertEqual(reply.status, 401, "\(what): \(reply.body)")
            XCTAssertTrue(reply.headers["WWW-Authenticate"].first?.hasPrefix("Bearer") == true, "\(what): \(reply.headers)")
            XCTAssertNotNil(reply.json["error"] as? String, reply.body)
        }
        let basic = try await serve.call(.GET, "/api/v1/runs", raw: nil)
        XCTAssertEqual(basic.status, 401)
        let ok = try await serve.call(.GET, "/api/v1/runs", token: token)
        XCTAssertEqual(ok.status, 200, ok.body)
    }

    func testAViewerCannotApproveDenyOrFlipASwitch() async throws {
        let ws = try APIWorkspace(self)
        let viewer = try ws.token("vic", "viewer")
        let operatorToken = try ws.token("otto", "operator")
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile])
        for token in [viewer, operatorToken] {
            let approve = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", token: token, json: ["reason": "looks fine"])
            XCTAssertEqual(approve.status, 403, approve.body)
            let deny = try await serve.call(.POST, "/api/v1/runs/\(run)/deny", token: token, json: ["reason": "no"])
            XCTAssertEqual(deny.status, 403, deny.body)
        }
        let flip = try await serve.call(.PUT, "/api/v1/switches/kill_switch", token: viewer, json: ["reason": "x"])
        XCTAssertEqual(flip.status, 403, flip.body)
        let reset = try await serve.call(.POST, "/api/v1/breakers/plain-001/reset", token: viewer)
        XCTAssertEqual(reset.status, 403, reset.body)
        let shown = try await serve.call(.GET, "/api/v1/runs/\(run)", token: viewer)
        XCTAssertEqual(shown.json["status"] as? String, "pending_approval", shown.body)
        XCTAssertFalse(ws.journal(run).contains { ($0["event"] as? String ?? "").hasPrefix("approval_given") || $0["event"] as? String == "approval_denied" })
        XCTAssertTrue(ws.audit.isEmpty, "nothing was changed: \(ws.audit)")
        let switches = try await serve.call(.GET, "/api/v1/switches", token: viewer)
        XCTAssertEqual((switches.json["switches"] as? [String: Any]).flatMap { $0["kill_switch"] as? [String: Any] }?["on"] as? Bool, false, switches.body)
    }

    func testOnLoopbackWithoutTokensCallersMayReadAndNothingElse() async throws {
        let ws = try APIWorkspace(self)
        let run = try ws.pendingRun("approve-001")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let list = try await serve.call(.GET, "/api/v1/runs")
        XCTAssertEqual(list.status, 200, list.body)
        XCTAssertEqual((list.json["runs"] as? [[String: Any]])?.map { $0["id"] as? String }, [run], list.body)
        let approve = try await serve.call(.POST, "/api/v1/runs/\(run)/approve", json: ["reason": "me"])
        XCTAssertEqual(approve.status, 403, approve.body)
        XCTAssertTrue((approve.json["error"] as? String ?? "").contains("no tokens"), approve.body)
        let flip = try await serve.call(.PUT, "/api/v1/switches/safe_mode")
        XCTAssertEqual(flip.status, 403, flip.body)
        XCTAssertNil(ws.outcome(run))
    }

    func testListeningBeyondLoopbackIsAcceptedWithTokens() async throws {
        let ws = try APIWorkspace(self)
        let (refused, stderr) = try MedicCommand.status(["serve", "--listen", "0.0.0.0:0"] + ws.arguments, in: ws.dir)
        XCTAssertEqual(refused, 2, stderr)
        XCTAssertTrue(stderr.contains("tokens"), stderr)
        let token = try ws.token("vic", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile, "--listen", "0.0.0.0:0"])
        XCTAssertTrue(serve.baseURL.hasPrefix("http://0.0.0.0:"), serve.baseURL)
        let anonymous = try await serve.call(.GET, "/api/v1/runs")
        XCTAssertEqual(anonymous.status, 401, anonymous.body)
        let reply = try await serve.call(.GET, "/api/v1/runs", token: token)
        XCTAssertEqual(reply.status, 200, reply.body)
    }

    func testATokensFileNamedByTheConfigurationIsReadAndABadOneRefused() async throws {
        let ws = try APIWorkspace(self)
        let token = try ws.token("vic", "viewer")
        let config = ws.dir.appendingPathComponent("medic.yaml")
        try "tokens: tokens.jsonl\n".write(to: config, atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--config", config.path])
        let anonymous = try await serve.call(.GET, "/api/v1/runs")
        XCTAssertEqual(anonymous.status, 401, anonymous.body)
        let reply = try await serve.call(.GET, "/api/v1/runs", token: token)
        XCTAssertEqual(reply.status, 200, reply.body)
        let bad = ws.dir.appendingPathComponent("bad.jsonl")
        try "{\"name\": \"x\", \"roles\": [\"root\"], \"sha256\": \"00\"}\n".write(to: bad, atomically: true, encoding: .utf8)
        let (status, stderr) = try MedicCommand.status(["serve", "--listen", "127.0.0.1:0", "--tokens", bad.path] + ws.arguments, in: ws.dir)
        XCTAssertEqual(status, 1, stderr)
        XCTAssertTrue(stderr.contains("bad.jsonl:1"), stderr)
    }

    func testEachIdentityHasItsOwnRateLimit() async throws {
        let ws = try APIWorkspace(self)
        let alice = try ws.token("alice", "viewer")
        let bob = try ws.token("bob", "viewer")
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--tokens", ws.tokensFile, "--rate-limit", "3"])
        var limited: ServeProcess.Reply?
        for _ in 0..<10 where limited == nil {
            let reply = try await serve.call(.GET, "/api/v1/runs", token: alice)
            if reply.status == 429 { limited = reply } else { XCTAssertEqual(reply.status, 200, reply.body) }
        }
        let refusal = try XCTUnwrap(limited, "the fourth request within a minute at 3 a minute is refused")
        XCTAssertNotNil(Int(refusal.headers["Retry-After"].first ?? ""), "\(refusal.headers)")
        XCTAssertNotNil(refusal.json["error"] as? String, refusal.body)
        let other = try await serve.call(.GET, "/api/v1/runs", token: bob)
        XCTAssertEqual(other.status, 200, "another identity is not limited: \(other.body)")
    }
}
