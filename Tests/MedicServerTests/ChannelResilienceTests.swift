import Foundation
import MedicServeTestKit
import XCTest

/// The notification channels carried as the engine carries its steps: each attempt bounded by
/// the channel's timeout, failed attempts retried with backoff within one send, a breaker per
/// channel, and a channel that hangs holding back nothing but its own incident.
final class ChannelResilienceTests: XCTestCase {
    static let policies = """
        escalation_policies:
          p_slow:
            name: Through a channel that hangs
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: slowhook}
          p_hook:
            name: Through the webhook
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: webhook}
          p_quick:
            name: Through a channel with a short timeout
            applies_to: [test]
            escalation_chain:
              - {level: 1, delay: 0s, notify: on_call, method: quickhook}
        """

    struct Library {
        let dir: URL
        /// Answers (or fails) at once.
        let receiver: LoopbackReceiver
        /// Holds what it gets (`holding`), as a receiver that hangs.
        let hanging: LoopbackReceiver
        var state: String { dir.appendingPathComponent("state").path }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--config", dir.appendingPathComponent("medic.yaml").path, "--no-rules"] }

        func levelState(_ key: String) -> String? {
            let data = FileManager.default.contents(atPath: state + "/escalations/\(key).json") ?? Data()
            let record = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            return ((record["levels"] as? [[String: Any]]) ?? []).first?["state"] as? String
        }

        func sent(_ receiver: LoopbackReceiver, _ key: String) -> Int {
            receiver.deliveries.filter { $0.idempotencyKey == "\(key)/level-1" }.count
        }
    }

    /// `hanging`: with the two channels of the receiver that hangs, each with its `timeout`;
    /// without, the webhook alone, a configuration the server took before channels had timeouts.
    func library(hanging withHanging: Bool = true) async throws -> Library {
        let receiver = try await LoopbackReceiver(self)
        let hanging = try await LoopbackReceiver(self)
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-channels-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks", "policies"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        try ServeTests.playbooks[1].write(to: dir.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
        try Self.policies.write(to: dir.appendingPathComponent("policies/test.yaml"), atomically: true, encoding: .utf8)
        let configuration = withHanging ? """
            escalation:
              policies: {SEV0: p_slow, SEV1: p_hook, SEV2: p_quick}
            channels:
              webhook: {type: webhook, url: "\(receiver.url)/hook"}
              slowhook: {type: webhook, url: "\(hanging.url)/slow", timeout: 1h}
              quickhook: {type: webhook, url: "\(hanging.url)/quick", timeout: 1s}
            """ : """
            escalation:
              policies: {SEV1: p_hook}
            channels:
              webhook: {type: webhook, url: "\(receiver.url)/hook"}
            """
        try configuration.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        return Library(dir: dir, receiver: receiver, hanging: hanging)
    }

    /// Opens an incident of `severity` that no playbook handles: its key.
    func open(_ serve: ServeProcess, severity: String, fingerprint: String) async throws -> String {
        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "DiskFull", "severity": severity],
                                                                                  fingerprint: fingerprint))
        XCTAssertEqual(answer.status, 200, answer.body)
        return try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, answer.body)
    }

    func testAReceiverThatFailsTheFirstAttemptsGetsTheLevelWithinOneSend() async throws {
        let lib = try await library(hanging: false)
        lib.receiver.failing = 2
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let key = try await open(serve, severity: "SEV1", fingerprint: "retry1")
        _ = try await ServeProcess.poll("level 1 marked sent (stderr: \(serve.stderr))") { lib.levelState(key) == "sent" ? true : nil }
        XCTAssertEqual(lib.sent(lib.receiver, key), 3, "two failed attempts, then the one taken, all with the level's dedup key")
        XCTAssertFalse(serve.stderr.contains("escalation of \(key)"), "the send did not fail: its attempts were retried within it\n\(serve.stderr)")
    }

    func testAChannelThatKeepsFailingIsOpenedAndNotCalledWhileOpen() async throws {
        let lib = try await library(hanging: false)
        lib.receiver.failing = 1_000_000
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let first = try await open(serve, severity: "SEV1", fingerprint: "breaker1")
        _ = try await ServeProcess.poll("the webhook channel to open (stderr: \(serve.stderr))", seconds: 120) {
            serve.stderr.contains("the channel is open") ? true : nil
        }
        XCTAssertEqual(lib.sent(lib.receiver, first), 9, "three sends of three attempts each")
        let second = try await open(serve, severity: "SEV1", fingerprint: "breaker2")
        _ = try await ServeProcess.poll("the second incident's send refused by the open channel (stderr: \(serve.stderr))") {
            serve.stderr.contains("escalation of \(second): channel 'webhook' is open") ? true : nil
        }
        XCTAssertEqual(lib.sent(lib.receiver, second), 0, "an open channel is not called")
        XCTAssertEqual(lib.levelState(second), "claimed")
    }

    func testAChannelThatHangsTimesOutAndHoldsBackNoOtherIncidentAndASentLevelIsNotRepeatedAfterARestart() async throws {
        let lib = try await library()
        lib.hanging.holding = true
        let serve = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        // A: its channel hangs, with a timeout of an hour.
        let stuck = try await open(serve, severity: "SEV0", fingerprint: "hang1")
        _ = try await lib.hanging.wait(for: 1, at: "/slow")
        // B, on another channel, is sent while A's send still hangs.
        let other = try await open(serve, severity: "SEV1", fingerprint: "free1")
        _ = try await ServeProcess.poll("B's level sent while A's hangs (stderr: \(serve.stderr))", seconds: 30) {
            lib.levelState(other) == "sent" ? true : nil
        }
        XCTAssertEqual(lib.levelState(stuck), "claimed", "A's send is still in flight")
        XCTAssertEqual(lib.sent(lib.hanging, stuck), 1)

        // C: its channel hangs too, with a timeout of 1 s: each attempt is abandoned, then the send fails.
        let quick = try await open(serve, severity: "SEV2", fingerprint: "quick1")
        _ = try await ServeProcess.poll("C's send to fail after its attempts timed out (stderr: \(serve.stderr))") {
            serve.stderr.contains("escalation of \(quick): channel 'quickhook': 3 attempt(s) failed") ? true : nil
        }
        XCTAssertTrue(serve.stderr.contains("timed out"), serve.stderr)
        XCTAssertGreaterThanOrEqual(lib.sent(lib.hanging, quick), 3, "each attempt abandoned at its timeout, and the next one made")

        // The receiver answers again: A's send is taken, C's is tried again and taken.
        lib.hanging.holding = false
        _ = try await ServeProcess.poll("A and C marked sent (stderr: \(serve.stderr))") {
            lib.levelState(stuck) == "sent" && lib.levelState(quick) == "sent" ? true : nil
        }
        let (stuckSends, quickSends) = (lib.sent(lib.hanging, stuck), lib.sent(lib.hanging, quick))
        let firstStatus = try await serve.stop()
        XCTAssertEqual(firstStatus, 0, serve.stderr)

        // After a restart, no level that was sent is sent again.
        let again = try await ServeProcess(self, in: lib.dir, arguments: lib.arguments)
        let later = try await open(again, severity: "SEV1", fingerprint: "free2")
        _ = try await ServeProcess.poll("a new incident's level sent after the restart") { lib.levelState(later) == "sent" ? true : nil }
        let secondStatus = try await again.stop()
        XCTAssertEqual(secondStatus, 0, again.stderr)
        XCTAssertEqual(lib.sent(lib.hanging, stuck), stuckSends)
        XCTAssertEqual(lib.sent(lib.hanging, quick), quickSends)
        XCTAssertEqual(lib.sent(lib.receiver, other), 1)
    }
}
