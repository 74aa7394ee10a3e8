import AsyncHTTPClient
import Foundation
import MedicServeTestKit
import NIOCore
import XCTest

/// An alert storm against `medic serve` as a real process, sized for CI: Alertmanager posts over
/// 50 groups, each group of alerts on one service of one host, each post sent twice and one in
/// five sent a third time (a retry), from many concurrent clients. One run per group.
final class AlertStormTests: XCTestCase {
    static let groups = 50
    /// Alerts (fingerprints) per group: every one maps to the group's playbook and target.
    static let members = 3
    /// Distinct posts per group, each carrying some of the group's alerts.
    static let postsPerGroup = 15
    static let clients = 32

    static let config = """
        routes:
          - match: {alertname: ServiceDown}
            playbook: restart-service-001
            parameters_from_labels: {service: job}
            target_label: instance
        """

    func testAStormOfRepeatedAndRetriedPostsStartsExactlyOneRunPerGroup() async throws {
        let ws = try StormWorkspace(self, config: Self.config)
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        var generator = SeededGenerator(seed: 15)
        var bodies: [Data] = []
        for group in 0..<Self.groups {
            for post in 0..<Self.postsPerGroup {
                // Every alert of the group is in some post; the others carry a random part of it.
                var chosen: Set<Int> = [post % Self.members]
                for member in 0..<Self.members where Bool.random(using: &generator) { chosen.insert(member) }
                bodies.append(Self.post(group: group, members: chosen.sorted()))
            }
        }
        // Each post twice, one in five a third time (a retry), all shuffled.
        var requests = bodies + bodies
        requests += bodies.filter { _ in Int.random(in: 0..<5, using: &generator) == 0 }
        requests.shuffle(using: &generator)
        let order = requests

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: Self.clients)))
        addTeardownBlock { try? await client.shutdown() }
        let statuses = try await withThrowingTaskGroup(of: [Int: Int].self) { tasks in
            for worker in 0..<Self.clients {
                tasks.addTask {
                    var counts: [Int: Int] = [:]
                    for index in stride(from: worker, to: order.count, by: Self.clients) {
                        var request = HTTPClientRequest(url: serve.baseURL + "/api/v1/alerts")
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(ByteBuffer(bytes: order[index]))
                        let response = try await client.execute(request, timeout: .seconds(120))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        counts[Int(response.status.code), default: 0] += 1
                    }
                    return counts
                }
            }
            return try await tasks.reduce(into: [Int: Int]()) { total, counts in total.merge(counts, uniquingKeysWith: +) }
        }
        XCTAssertEqual(statuses, [200: requests.count], "every post is acknowledged (stderr: \(serve.stderr.suffix(2000)))")

        // No incident is lost: one per alert, and the alerts of a group share one run.
        let listed = try await serve.get("/api/v1/incidents")
        let incidents = try XCTUnwrap(listed.json["incidents"] as? [[String: Any]], listed.body)
        XCTAssertEqual(incidents.count, Self.groups * Self.members, "one incident per alert")
        var runByGroup: [String: Set<String>] = [:]
        var leads: [String: Int] = [:]
        for incident in incidents {
            let group = try XCTUnwrap(incident["group_key"] as? String)
            runByGroup[group, default: []].insert(try XCTUnwrap(incident["run_id"] as? String, "\(incident)"))
            if incident["folded_into"] == nil { leads[group, default: 0] += 1 }
        }
        XCTAssertEqual(runByGroup.count, Self.groups)
        XCTAssertTrue(runByGroup.values.allSatisfy { $0.count == 1 }, "one run per group: \(runByGroup.filter { $0.value.count > 1 })")
        XCTAssertEqual(leads.count, Self.groups, "each group has the incident that started its run")
        XCTAssertTrue(leads.values.allSatisfy { $0 == 1 }, "one incident per group is not folded: \(leads.filter { $0.value != 1 })")

        // The journals: exactly one run per group, each finished, each one of the incidents' runs.
        let runs = Set(runByGroup.values.flatMap { $0 })
        let journals = try await ServeProcess.poll("the \(Self.groups) runs to finish (stderr: \(serve.stderr.suffix(2000)))", seconds: 180) { () -> [String]? in
            let found = ws.journals
            guard found.count >= Self.groups, found.allSatisfy({ ws.finished(String($0.dropLast(6))) != nil }) else { return nil }
            return found
        }
        XCTAssertEqual(journals.count, Self.groups, "exactly one run per group: \(journals.count) runs")
        XCTAssertEqual(Set(journals.map { String($0.dropLast(6)) }), runs)
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
    }

    /// An Alertmanager version 4 post of group `group` carrying alerts `members` of it, as
    /// Alertmanager sends a group: its `groupKey`, and each alert with its own fingerprint.
    static func post(group: Int, members: [Int]) -> Data {
        let alerts: [[String: Any]] = members.map { member in
            let labels = ["alertname": "ServiceDown", "job": "svc-\(group)", "instance": "host-\(group)", "probe": "p\(member)"]
            return ["status": "firing", "labels": labels, "annotations": ["summary": "down"],
                    "startsAt": "2026-12-06T05:00:00.\(String(format: "%03d", member))Z", "endsAt": "0001-01-01T00:00:00Z",
                    "generatorURL": "http://prometheus.example/graph", "fingerprint": String(format: "%08x%08x", group, member)]
        }
        let payload: [String: Any] = [
            "version": "4", "groupKey": "{}:{instance=\"host-\(group)\", job=\"svc-\(group)\"}", "truncatedAlerts": 0, "status": "firing",
            "receiver": "medic", "groupLabels": ["job": "svc-\(group)", "instance": "host-\(group)"],
            "commonLabels": ["alertname": "ServiceDown", "job": "svc-\(group)", "instance": "host-\(group)"],
            "commonAnnotations": ["summary": "down"], "externalURL": "http://alertmanager.example", "alerts": alerts,
        ]
        return try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
    }
}

/// A library with `ServeTests`' actions and playbooks, a configuration, and a state directory
/// where each playbook has run once by hand (so that safe mode lets its automated runs go).
struct StormWorkspace {
    let dir: URL
    let seeded: [String]
    var state: String { dir.appendingPathComponent("state").path }
    var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path, "--no-rules"] }

    init(_ test: XCTestCase, config: String) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-storm-\(UUID().uuidString)")
        self.dir = dir
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in ServeTests.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        try config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state").path
        let (status, stderr) = try MedicCommand.status(["run", "restart-service-001", "--param", "service=seed", "--target", "seed",
                                                        "--root", dir.path, "--state-dir", state, "--workdir", dir.path], in: dir)
        XCTAssertEqual(status, 0, "seed run: \(stderr)")
        seeded = ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? []).filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(seeded.count, 1)
    }

    /// The journals of the runs the server started (the seed run left out).
    var journals: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? []).filter { $0.hasSuffix(".jsonl") && !seeded.contains($0) }.sorted()
    }

    func finished(_ runID: String) -> [String: Any]? {
        let text = (try? String(contentsOfFile: state + "/runs/\(runID).jsonl", encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .first { $0["event"] as? String == "run_finished" }
    }
}

/// A deterministic random number generator (SplitMix64), so a failing storm can be replayed.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49A4_133B_EB94
        return z ^ (z >> 31)
    }
}
