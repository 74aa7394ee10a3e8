import Foundation
import MedicServeTestKit
import XCTest

/// One fault, one page: an alert folded into the run of another incident (a rule's, or its
/// group's lead) is not escalated on its own while that incident fires and is at least as
/// severe; it is once that incident is resolved and it still fires, or when it is more severe.
/// And §5.1's severity levels page: their notifications when an incident opens, their deadlines
/// bringing the policy's next level forward. The real binary, a loopback receiver for the pages.
final class FoldedEscalationTests: XCTestCase {
    struct Library {
        let dir: URL
        let receiver: LoopbackReceiver
        let token: String
        let sender: String
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] {
            ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path,
             "--metrics", dir.appendingPathComponent("metrics.yaml").path, "--interval", "100ms"]
        }

        func escalation(_ key: String) -> [String: Any]? {
            guard let data = FileManager.default.contents(atPath: state + "/escalations/\(key).json") else { return nil }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
        }

        func setFault(_ level: Int) throws {
            try "{\"fault_level\": \(level)}".write(to: dir.appendingPathComponent("state.json"), atomically: true, encoding: .utf8)
        }
    }

    /// ServeTests' playbooks (linger-001 waits for a `release` file), one manual run of
    /// linger-001 (so that safe mode lets automated runs go), tokens, `policies` and `config`
    /// added to medic.yaml, a webhook channel per method in `methods` (at `/<method>`).
    func library(policies: String, rule: Bool, config: String, methods: [String]) async throws -> Library {
        let receiver = try await LoopbackReceiver(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-folded-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        try ServeRulesTests.writeLibrary(in: dir, folders: ["policies"])
        try policies.write(to: dir.appendingPathComponent("policies/test.yaml"), atomically: true, encoding: .utf8)
        if rule { try SeverityEscalationTests.rule.write(to: dir.appendingPathComponent("rules/fault.yaml"), atomically: true, encoding: .utf8) }
        let token = try ServeProcess.token("alice", in: dir)
        let sender = try ServeProcess.token("alertmanager", role: "sender", in: dir)
        let channels = methods.map { "  \($0): {type: webhook, url: \"\(receiver.url)/\($0)\"}" }.joined(separator: "\n")
        try """
            tokens: tokens.jsonl
            routes:
              - match: {alertname: ServiceDown}
                playbook: restart-service-001
                parameters_from_labels: {service: job}
            \(config)
            channels:
            \(channels)
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let lib = Library(dir: dir, receiver: receiver, token: token, sender: sender)
        try lib.setFault(0)
        let release = dir.appendingPathComponent("release").path
        XCTAssertTrue(FileManager.default.createFile(atPath: release, contents: nil))
        let (status, stderr) = try MedicCommand.status(["run", "linger-001", "--root", dir.path, "--state-dir", lib.state, "--workdir", dir.path], in: dir)
        XCTAssertEqual(status, 0, "seed run: \(stderr)")
        try FileManager.default.removeItem(atPath: release)
        return lib
    }

    func post(_ serve: ServeProcess, _ lib: Library, labels: [String: String], fingerprint: String) async throws -> [String: Any] {
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: labels, fingerprint: fingerprint), token: lib.sender)
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
    }

    func testAnAlertFoldedIntoARulesRunIsPagedByThatRunsIncidentUntilItIsResolved() async throws {
        let lib = try await library(policies: SeverityEscalationTests.policies, rule: true,
                                    config: "escalation:\n  policies: {SEV0: page_now, SEV1: page_now}", methods: ["webhook"])
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        _ = try await ServeProcess.poll("the rules to be watched (stderr: \(serve.stderr))") { serve.stderr.contains("rules: watching 1 series") ? true : nil }
        try lib.setFault(1)
        let first = try await lib.receiver.wait(for: 1, at: "/webhook")[0].json
        let ruleKey = try XCTUnwrap(first["incident"] as? String, "\(first)")
        XCTAssertTrue(ruleKey.hasPrefix("rule-"), ruleKey)

        // The same fault seen by an alert (SEV1, as the rule): folded into the rule's run.
        let folded = try await post(serve, lib, labels: ["alertname": "linger-001", "severity": "SEV1"], fingerprint: "f01ded0000000001")
        XCTAssertTrue((folded["reason"] as? String ?? "").contains("folded into"), "\(folded)")
        let foldedKey = try XCTUnwrap(folded["key"] as? String)
        let covered = try await ServeProcess.poll("the folded alert's escalation to wait for the rule's incident") {
            lib.escalation(foldedKey).flatMap { $0["covered_by"] as? String }
        }
        XCTAssertEqual(covered, ruleKey)
        // A more severe alert of the same fault folds too, and is paged on its own.
        let severe = try await post(serve, lib, labels: ["alertname": "linger-001", "severity": "SEV0"], fingerprint: "f01ded0000000002")
        let severeKey = try XCTUnwrap(severe["key"] as? String)
        let pages = try await lib.receiver.wait(for: 2, at: "/webhook")
        XCTAssertEqual(pages.map { $0.json["incident"] as? String }, [ruleKey, severeKey], "\(pages.map(\.json))")
        XCTAssertEqual(pages[1].json["severity"] as? String, "SEV0")

        // The rule's incident resolved by a person while the SEV1 alert still fires: now it is paged.
        let resolve = try await serve.post("/api/v1/incidents/\(ruleKey)/resolve", body: Data(#"{"note": "rule looked at"}"#.utf8), token: lib.token)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        let after = try await lib.receiver.wait(for: 3, at: "/webhook")
        XCTAssertEqual(after[2].json["incident"] as? String, foldedKey, "\(after.map(\.json))")
        XCTAssertEqual(lib.escalation(foldedKey)?["covered_by"] as? String, ruleKey, "the record keeps who stood for it")

        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
        XCTAssertEqual(lib.receiver.deliveries.filter { $0.path == "/webhook" }.count, 3, "\(lib.receiver.deliveries.map(\.json))")
    }

    func testAnAlertFoldedIntoARunWhoseIncidentPagesNobodyIsPagedOnItsOwn() async throws {
        // The rule's SEV1 maps to no policy: its incident pages nobody, so it stands for no one.
        let lib = try await library(policies: SeverityEscalationTests.policies, rule: true,
                                    config: "escalation:\n  policies: {SEV2: page_now}", methods: ["webhook"])
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        _ = try await ServeProcess.poll("the rules to be watched (stderr: \(serve.stderr))") { serve.stderr.contains("rules: watching 1 series") ? true : nil }
        try lib.setFault(1)
        _ = try await ServeProcess.poll("the rule's incident") { () -> Bool? in
            let keys = (try? FileManager.default.contentsOfDirectory(atPath: lib.state + "/incidents")) ?? []
            return keys.contains { $0.hasPrefix("rule-") } ? true : nil
        }
        let folded = try await post(serve, lib, labels: ["alertname": "linger-001", "severity": "SEV2"], fingerprint: "f01ded0000000003")
        XCTAssertTrue((folded["reason"] as? String ?? "").contains("folded into"), "\(folded)")
        let page = try await lib.receiver.wait(for: 1, at: "/webhook")[0].json
        XCTAssertEqual(page["incident"] as? String, folded["key"] as? String, "\(page)")
        XCTAssertNil(lib.escalation(try XCTUnwrap(folded["key"] as? String))?["covered_by"])
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
    }

    static let levels = """
        severity_levels:
          SEV1_HIGH:
            description: Major functionality impaired
            response_time: 2s
            escalation: 1h
            notifications:
              - on_call (page)
              - team_lead (page + sms)
            auto_remediation: enabled
        escalation_policies:
          slow_page:
            name: Page, then the manager in an hour
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: page}
              - {level: 2, delay: 1h, notify: manager, method: page}
        """

    func testASeverityLevelsNotificationsGoOutAtOnceAndItsResponseTimeBringsTheNextLevelForward() async throws {
        let lib = try await library(policies: Self.levels, rule: false, config: "escalation:\n  policies: {SEV1: slow_page}", methods: ["page", "sms"])
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let incident = try await post(serve, lib, labels: ["alertname": "linger-001", "severity": "SEV1"], fingerprint: "5e5e5e5e00000001")
        let key = try XCTUnwrap(incident["key"] as? String)
        // Its run lingers (no §5.4 trigger). Level 0 (the severity level's notifications, per
        // method), level 1 at once, then level 2,
        // due in an hour, brought forward once the 2 s response time passes unacknowledged.
        let pages = try await lib.receiver.wait(for: 3, at: "/page")
        let sms = try await lib.receiver.wait(for: 1, at: "/sms")
        XCTAssertEqual(pages.map { $0.json["level"] as? Int }, [0, 1, 2], "\(pages.map(\.json))")
        XCTAssertEqual(pages[0].json["notify"] as? String, "on_call, team_lead")
        XCTAssertEqual(pages[0].json["policy"] as? String, "severity_levels")
        XCTAssertEqual(sms[0].json["notify"] as? String, "team_lead")
        XCTAssertEqual(sms[0].json["level"] as? Int, 0)
        XCTAssertEqual(pages[1].json["policy"] as? String, "slow_page")
        XCTAssertEqual(pages[2].json["notify"] as? String, "manager")
        XCTAssertEqual(pages[2].json["reason"] as? String, "not acknowledged within the response time of SEV1_HIGH (2s)", "\(pages[2].json)")
        XCTAssertTrue(pages.allSatisfy { $0.json["incident"] as? String == key })
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
    }

    func testASeverityLevelsMethodWithoutAChannelIsAWarningAndIsNotSentAndSeverityLevelsCanBeTurnedOff() async throws {
        let lib = try await library(policies: Self.levels, rule: false, config: "escalation:\n  policies: {SEV1: slow_page}", methods: ["page"])
        // A library's §5.1 block must not stop a server that starts today: a warning, and what no channel carries is not sent.
        let warned = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let first = try await post(warned, lib, labels: ["alertname": "linger-001", "severity": "SEV1"], fingerprint: "5e5e5e5e00000004")
        let notice = try await lib.receiver.wait(for: 1, at: "/page")[0].json
        XCTAssertEqual(notice["level"] as? Int, 0, "\(notice)")
        XCTAssertEqual(notice["notify"] as? String, "on_call, team_lead")
        XCTAssertEqual(notice["incident"] as? String, first["key"] as? String)
        XCTAssertTrue(warned.stderr.contains("severity level SEV1_HIGH notifies team_lead by 'sms', which no channel carries: not sent"), warned.stderr)
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
        let stoppedFirst = try await warned.stop()
        XCTAssertEqual(stoppedFirst, 0, warned.stderr)
        try FileManager.default.removeItem(at: lib.dir.appendingPathComponent("release"))

        try """
            tokens: tokens.jsonl
            routes:
              - match: {alertname: ServiceDown}
                playbook: restart-service-001
                parameters_from_labels: {service: job}
            escalation:
              policies: {SEV1: slow_page}
              severity_levels: false
            channels:
              page: {type: webhook, url: "\(lib.receiver.url)/page"}
            """.write(to: lib.dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let incident = try await post(serve, lib, labels: ["alertname": "ServiceDown", "job": "api", "severity": "SEV1"], fingerprint: "5e5e5e5e00000002")
        let key = try XCTUnwrap(incident["key"] as? String)
        func pages() -> [Int] { lib.receiver.deliveries.filter { $0.json["incident"] as? String == key }.compactMap { $0.json["level"] as? Int } }
        _ = try await ServeProcess.poll("level 1 of \(key)") { pages().contains(1) ? true : nil }
        // Level 0 would have gone before level 1, in the same pass.
        XCTAssertFalse(pages().contains(0), "no level 0 with severity levels off: \(pages())")
        let stopped = try await serve.stop()
        XCTAssertEqual(stopped, 0, serve.stderr)
    }

    /// Two servers sharing one PostgreSQL: level 0 is claimed like the others, sent once per method.
    func testTwoServersSharingADatabaseSendASeverityLevelsNotificationsOnce() async throws {
        let lib = try await library(policies: Self.levels, rule: false, config: "escalation:\n  policies: {SEV1: slow_page}", methods: ["page", "sms"])
        let (_, address) = try SharedServers.database(self, in: lib.dir)
        let servers = try await SharedServers.start(self, ["one", "two"], in: lib.dir, address: address,
                                                    arguments: ["--config", lib.dir.appendingPathComponent("medic.yaml").path, "--lease", "2"])
        let labels = ["alertname": "linger-001", "severity": "SEV1"]
        let opened = try await post(servers[0], lib, labels: labels, fingerprint: "5e5e5e5e00000003")
        let key = try XCTUnwrap(opened["key"] as? String)
        let again = try await post(servers[1], lib, labels: labels, fingerprint: "5e5e5e5e00000003")["key"] as? String
        XCTAssertEqual(again, key)
        _ = try await lib.receiver.wait(for: 1, at: "/sms")
        // Both servers' schedulers are done with levels 0 and 1 by the time each ledger records them.
        for name in ["one", "two"] {
            let ledger = lib.dir.appendingPathComponent("state-\(name)/escalations/\(key).json").path
            _ = try await ServeProcess.poll("server \(name) done with levels 0 and 1") { () -> Bool? in
                let record = (try? JSONSerialization.jsonObject(with: FileManager.default.contents(atPath: ledger) ?? Data())) as? [String: Any]
                let states = ((record?["levels"] as? [[String: Any]]) ?? []).filter { [0, 1].contains($0["level"] as? Int) }.map { $0["state"] as? String ?? "" }
                return states.count == 2 && states.allSatisfy { ["sent", "skipped"].contains($0) } ? true : nil
            }
        }
        let pages = lib.receiver.deliveries.filter { $0.path == "/page" }.compactMap { $0.json["level"] as? Int }.filter { $0 < 2 }
        XCTAssertEqual(pages.sorted(), [0, 1], "levels 0 and 1 paged once each, by one server")
        XCTAssertEqual(lib.receiver.deliveries.filter { $0.path == "/sms" }.count, 1)
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("release").path, contents: nil))
    }
}
