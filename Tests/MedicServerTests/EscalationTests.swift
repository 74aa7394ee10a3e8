import Foundation
import MedicServeTestKit
import XCTest

/// Escalation policies run by the real `medic serve` against a loopback receiver: levels in
/// order, ack and resolve stopping them, a SIGKILL between levels, §5.4's triggers, and each
/// notification channel's payload.
final class EscalationTests: XCTestCase {
    /// §5.3 of the reference as written: it must load.
    static let referencePolicies = """
        escalation_policies:
          policy_001:
            name: "Critical Infrastructure"
            applies_to:
              - kubernetes_cluster
              - database_cluster
              - load_balancer

            escalation_chain:
              - level: 1
                delay: 0m
                notify: on_call_sre
                method: phone_call

              - level: 2
                delay: 5m
                condition: not_acknowledged
                notify: sre_team_lead
                method: phone_call

              - level: 3
                delay: 15m
                condition: not_resolved
                notify: engineering_manager
                method: phone_call + sms

              - level: 4
                delay: 30m
                condition: not_resolved
                notify: cto
                method: phone_call

          policy_002:
            name: "Application Services"
            applies_to:
              - api_services
              - background_workers
              - caching_layer

            escalation_chain:
              - level: 1
                delay: 0m
                notify: on_call_engineer
                method: pagerduty

              - level: 2
                delay: 30m
                condition: not_acknowledged
                notify: team_lead
                method: phone_call

              - level: 3
                delay: 2h
                condition: not_resolved
                notify: engineering_manager
                method: email + slack
        """

    /// Short delays, so a test sees several levels; 20 s between the first and the others
    /// leaves the test time to act (ack, resolve, kill) before they are due, even on a loaded machine.
    static let testPolicies = """
        escalation_policies:
          test_chain:
            name: Test chain
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: webhook}
              - {level: 2, delay: 20s, condition: not_acknowledged, notify: lead, method: webhook}
              - {level: 3, delay: 20s, condition: not_resolved, notify: manager, method: webhook}
          test_channels:
            name: Every channel
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: slack + pagerduty + email + bus}
          test_trigger:
            name: Late unless a run fails
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 1h, notify: on_call, method: webhook}
        """

    /// Fails once `broken` exists in the working directory.
    static let flaky = """
        actions:
          flaky:
            type: infrastructure
            risk_level: low
            parameters: {}
            implementation: test ! -e broken
        """

    static let flakyPlaybook = """
        playbook_id: flaky-001
        name: Fails when broken
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: flaky, action: flaky}
        metadata: {}
        """

    struct Library {
        let dir: URL
        let receiver: LoopbackReceiver
        /// An operator's token (the configuration's `tokens:` file), for ack and resolve.
        let token: String
        /// A sender's token, for the alerts.
        let sender: String
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path] }

        func record(_ key: String) -> [String: Any] {
            let data = FileManager.default.contents(atPath: state + "/escalations/\(key).json") ?? Data()
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        }

        func levelState(_ key: String, _ level: Int) -> String? {
            ((record(key)["levels"] as? [[String: Any]]) ?? []).first { $0["level"] as? Int == level }?["state"] as? String
        }
    }

    func library() async throws -> Library {
        let receiver = try await LoopbackReceiver(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-escalation-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks", "policies"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in ServeTests.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        try Self.flaky.write(to: dir.appendingPathComponent("actions/flaky.yaml"), atomically: true, encoding: .utf8)
        try Self.flakyPlaybook.write(to: dir.appendingPathComponent("playbooks/flaky.yaml"), atomically: true, encoding: .utf8)
        try Self.referencePolicies.write(to: dir.appendingPathComponent("policies/reference.yaml"), atomically: true, encoding: .utf8)
        try Self.testPolicies.write(to: dir.appendingPathComponent("policies/test.yaml"), atomically: true, encoding: .utf8)
        let sendmail = dir.appendingPathComponent("sendmail.sh")
        try """
            #!/bin/sh
            cat > "\(dir.path)/mail.body"
            printf '%s\\n' "$@" > "\(dir.path)/mail.args"
            """.write(to: sendmail, atomically: true, encoding: .utf8)
        chmod(sendmail.path, 0o755)
        let token = try ServeProcess.token("alice", in: dir)
        let sender = try ServeProcess.token("alertmanager", role: "sender", in: dir)
        try """
            tokens: tokens.jsonl
            routes:
              - match: {alertname: ServiceDown}
                playbook: restart-service-001
                parameters_from_labels: {service: job}
                target_label: instance
            escalation:
              policies: {SEV1: test_chain, SEV2: test_channels, SEV3: test_trigger}
            channels:
              webhook: {type: webhook, url: "\(receiver.url)/hook"}
              slack: {type: slack, url: "\(receiver.url)/slack"}
              pagerduty: {type: pagerduty, routing_key: R0UTINGKEY, url: "\(receiver.url)/pd"}
              email: {type: email, command: "\(sendmail.path)", to: [oncall@example.com, lead@example.com]}
              bus: {type: bus}
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        return Library(dir: dir, receiver: receiver, token: token, sender: sender)
    }

    /// Opens an incident of `severity` that no playbook handles: its key.
    func open(_ serve: ServeProcess, _ lib: Library, severity: String, fingerprint: String, alertname: String = "DiskFull",
              labels: [String: String] = [:]) async throws -> String {
        let body = ServeTests.post(labels: ["alertname": alertname, "severity": severity].merging(labels) { $1 }, fingerprint: fingerprint)
        let answer = try await serve.post("/api/v1/alerts", body: body, token: lib.sender)
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body)
    }

    static func levels(_ deliveries: [LoopbackReceiver.Delivery]) -> [Int] { deliveries.compactMap { $0.json["level"] as? Int } }

    func testLevelsFireInOrderAndAnAcknowledgementStopsTheNotAcknowledgedOnes() async throws {
        let lib = try await library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(serve, lib, severity: "SEV1", fingerprint: "chain1")
        let first = try await lib.receiver.wait(for: 1, at: "/hook")
        XCTAssertEqual(first[0].json["notify"] as? String, "on_call")
        XCTAssertEqual(first[0].json["incident"] as? String, key)
        XCTAssertEqual(first[0].idempotencyKey, "\(key)/level-1")
        let ack = try await serve.post("/api/v1/incidents/\(key)/ack", body: Data(#"{"note": "on it"}"#.utf8), token: lib.token)
        XCTAssertEqual(ack.status, 200, ack.body)
        _ = try await ServeProcess.poll("level 2 skipped: \(lib.record(key))") { lib.levelState(key, 2) == "skipped" ? true : nil }
        let all = try await lib.receiver.wait(for: 2, at: "/hook")
        XCTAssertEqual(Self.levels(all), [1, 3], "level 2 (not_acknowledged) stopped, level 3 (not_resolved) sent")
        XCTAssertEqual(all[1].json["notify"] as? String, "manager")
        _ = try await ServeProcess.poll("level 3 marked sent") { lib.levelState(key, 3) == "sent" ? true : nil }
    }

    func testAResolutionStopsEveryLevelLeft() async throws {
        let lib = try await library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(serve, lib, severity: "SEV1", fingerprint: "chain2")
        _ = try await lib.receiver.wait(for: 1, at: "/hook")
        let resolve = try await serve.post("/api/v1/incidents/\(key)/resolve", body: Data(#"{"note": "fixed"}"#.utf8), token: lib.token)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        _ = try await ServeProcess.poll("levels 2 and 3 skipped: \(lib.record(key))") {
            lib.levelState(key, 2) == "skipped" && lib.levelState(key, 3) == "skipped" ? true : nil
        }
        XCTAssertEqual(Self.levels(lib.receiver.deliveries), [1])
    }

    func testAServerKilledBetweenTwoLevelsSendsTheNextOnceAndNeverRepeatsTheLast() async throws {
        let lib = try await library()
        let first = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(first, lib, severity: "SEV1", fingerprint: "chain3")
        _ = try await lib.receiver.wait(for: 1, at: "/hook")
        _ = try await ServeProcess.poll("level 1 marked sent") { lib.levelState(key, 1) == "sent" ? true : nil }
        let killed = try await first.stop(with: SIGKILL)
        XCTAssertEqual(killed, SIGKILL)
        XCTAssertEqual(lib.levelState(key, 2), "pending", "the kill came before level 2 was due")
        _ = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let all = try await lib.receiver.wait(for: 3, at: "/hook")
        XCTAssertEqual(Self.levels(all), [1, 2, 3], "no level skipped, none repeated")
        XCTAssertEqual(all.map(\.idempotencyKey), (1...3).map { "\(key)/level-\($0)" })
    }

    func testALevelClaimedWhenTheServerDiedIsSentAgainWithTheSameDedupKey() async throws {
        let lib = try await library()
        lib.receiver.holding = true
        let first = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(first, lib, severity: "SEV1", fingerprint: "claim1")
        _ = try await lib.receiver.wait(for: 1, at: "/hook")
        XCTAssertEqual(lib.levelState(key, 1), "claimed", "claimed before the channel was called, not marked while it hangs")
        _ = try await first.stop(with: SIGKILL)
        lib.receiver.holding = false
        _ = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        _ = try await ServeProcess.poll("level 1 marked sent after the restart") { lib.levelState(key, 1) == "sent" ? true : nil }
        let sent = lib.receiver.deliveries.filter { $0.path == "/hook" }
        XCTAssertEqual(sent.map(\.idempotencyKey), ["\(key)/level-1", "\(key)/level-1"], "at least once, the repeat carries the same key")
    }

    func testARunHeldByAGateBringsTheNextLevelForwardAtOnce() async throws {
        let lib = try await library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        // restart-service-001 has never succeeded here: safe mode holds its automated run, so the
        // run ends refused (a gate refused an automated run), which escalates one level.
        let key = try await open(serve, lib, severity: "SEV3", fingerprint: "trig1", alertname: "ServiceDown",
                                 labels: ["job": "cart", "instance": "web-1"])
        let sent = try await lib.receiver.wait(for: 1, at: "/hook")
        XCTAssertEqual(sent[0].json["level"] as? Int, 1)
        let reason = sent[0].json["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("run "), "the trigger is named: \(sent[0].json)")
        XCTAssertNotNil(lib.record(key)["trigger"] as? String)
    }

    func testAFailedRunBringsTheNextLevelForwardAtOnce() async throws {
        let lib = try await library()
        // One manual success first, so safe mode lets the automated run go (and fail).
        let (seeded, seedErr) = try MedicCommand.status(["run", "flaky-001"] + lib.arguments.filter { $0 != "--config" && !$0.hasSuffix("medic.yaml") }, in: lib.dir)
        XCTAssertEqual(seeded, 0, seedErr)
        XCTAssertTrue(FileManager.default.createFile(atPath: lib.dir.appendingPathComponent("broken").path, contents: nil))
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(serve, lib, severity: "SEV3", fingerprint: "trig2", alertname: "flaky-001")
        let sent = try await lib.receiver.wait(for: 1, at: "/hook")
        XCTAssertEqual(sent[0].json["level"] as? Int, 1)
        let reason = sent[0].json["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("failed"), "the trigger is named: \(sent[0].json)")
        XCTAssertEqual(lib.record(key)["trigger"] as? String, reason)
    }

    func testEachChannelCarriesItsPayload() async throws {
        let lib = try await library()
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(serve, lib, severity: "SEV2", fingerprint: "chan1")
        let slack = try await lib.receiver.wait(for: 1, at: "/slack")
        let text = try XCTUnwrap(slack[0].json["text"] as? String, String(decoding: slack[0].body, as: UTF8.self))
        XCTAssertTrue(text.contains(key) && text.contains("SEV2"), text)
        XCTAssertEqual(slack[0].contentType, "application/json")

        let pd = try await lib.receiver.wait(for: 1, at: "/pd")
        let event = pd[0].json
        XCTAssertEqual(event["routing_key"] as? String, "R0UTINGKEY")
        XCTAssertEqual(event["event_action"] as? String, "trigger")
        XCTAssertEqual(event["dedup_key"] as? String, key)
        let payload = try XCTUnwrap(event["payload"] as? [String: Any], "\(event)")
        XCTAssertEqual(payload["severity"] as? String, "error")
        XCTAssertEqual(payload["source"] as? String, "medic")
        XCTAssertFalse((payload["summary"] as? String ?? "").isEmpty)

        let args = try await ServeProcess.poll("the email command's arguments") {
            try? String(contentsOf: lib.dir.appendingPathComponent("mail.args"), encoding: .utf8)
        }
        XCTAssertEqual(args.split(separator: "\n"), ["-i", "--", "oncall@example.com", "lead@example.com"])
        let message = try await ServeProcess.poll("the email message") { () -> String? in
            let text = try? String(contentsOf: lib.dir.appendingPathComponent("mail.body"), encoding: .utf8)
            return text?.contains("X-Medic-Dedup-Key") == true ? text : nil
        }
        XCTAssertTrue(message.hasPrefix("To: oncall@example.com, lead@example.com\n"), message)
        XCTAssertTrue(message.contains("X-Medic-Dedup-Key: \(key)/level-1"), message)
        _ = try await ServeProcess.poll("level 1 marked sent") { lib.levelState(key, 1) == "sent" ? true : nil }

        // The bus: the server's default, the state directory's outbox.
        let outbox = (try? String(contentsOfFile: lib.state + "/outbox.jsonl", encoding: .utf8)) ?? ""
        let events = outbox.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let escalated = try XCTUnwrap(events.first { $0["type"] as? String == "dev.medic.incident.escalated" }, outbox)
        let data = try XCTUnwrap(escalated["data"] as? [String: Any], "\(escalated)")
        XCTAssertTrue("\(data)".contains("\(key)/level-1"), "the dedup key is in the event: \(escalated)")

        // PagerDuty follows the incident: acknowledge, then resolve, under the same dedup key.
        let ack = try await serve.post("/api/v1/incidents/\(key)/ack", body: Data(#"{"note": "on it"}"#.utf8), token: lib.token)
        XCTAssertEqual(ack.status, 200, ack.body)
        let acknowledged = try await lib.receiver.wait(for: 2, at: "/pd")
        XCTAssertEqual(acknowledged[1].json["event_action"] as? String, "acknowledge")
        XCTAssertEqual(acknowledged[1].json["dedup_key"] as? String, key)
        XCTAssertEqual(acknowledged[1].json["routing_key"] as? String, "R0UTINGKEY")
        let resolve = try await serve.post("/api/v1/incidents/\(key)/resolve", body: Data(#"{"note": "on it"}"#.utf8), token: lib.token)
        XCTAssertEqual(resolve.status, 200, resolve.body)
        let resolved = try await lib.receiver.wait(for: 3, at: "/pd")
        XCTAssertEqual(resolved[2].json["event_action"] as? String, "resolve")
        XCTAssertEqual(resolved[2].json["dedup_key"] as? String, key)
        XCTAssertNil(resolved[2].json["payload"])
    }

    func testAConfigurationNamingAMissingPolicyOrChannelIsRefused() async throws {
        let lib = try await library()
        try """
            escalation:
              policies: {SEV1: no_such_policy, SEV2: policy_001}
            channels:
              phone_call: {type: carrier_pigeon}
            """.write(to: lib.dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let (status, stderr) = try MedicCommand.status(["serve", "--listen", "127.0.0.1:0"] + lib.arguments, in: lib.dir)
        XCTAssertEqual(status, 1, stderr)
        for expected in ["no_such_policy", "carrier_pigeon", "'sms'"] {
            XCTAssertTrue(stderr.contains(expected), "\(expected): \(stderr)")
        }
    }
}
