import AsyncHTTPClient
import Foundation
import NIOCore

/// `alert-storm`: the storm of the issue against a release `medic serve` with a playbook routed
/// by label: N (10,000) distinct Alertmanager posts over 50 groups of 3 alerts (each group one
/// service on one host), each post sent twice and one in five a third time, shuffled, from C
/// (64) concurrent clients. Reported: the runs started (one per group expected), every answer
/// 2xx, the incidents listed, requests/s and the acknowledgement latency (p50, p99).
enum AlertStormBenchmark {
    static let groups = 50, members = 3

    static func run(posts: Int, clients: Int) async throws {
        let dir = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeLibrary(in: dir)
        let state = dir.appendingPathComponent("state").path
        try HighAvailabilityBenchmark.seed(in: dir, state: state)
        let seeded = Set(journals(state))
        let serve = try ServeChild(binary: medicBinary, directory: dir, extra: ["--config", dir.appendingPathComponent("medic.yaml").path,
                                                                               "--workdir", dir.path])
        defer { serve.stop() }

        var generator = SystemRandomNumberGenerator()
        var bodies: [ByteBuffer] = []
        for index in 0..<posts {
            let group = index % groups
            var chosen: Set<Int> = [(index / groups) % members]
            for member in 0..<members where Bool.random(using: &generator) { chosen.insert(member) }
            bodies.append(ByteBuffer(data: body(group: group, members: chosen.sorted())))
        }
        var requests = bodies + bodies
        requests += bodies.filter { _ in Int.random(in: 0..<5, using: &generator) == 0 }
        requests.shuffle(using: &generator)
        let order = requests
        let url = serve.baseURL + "/api/v1/alerts"

        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(
            connectionPool: .init(idleTimeout: .seconds(60), concurrentHTTP1ConnectionsPerHostSoftLimit: clients)))
        let start = Date()
        let (latencies, statuses) = try await withThrowingTaskGroup(of: ([Double], [Int: Int]).self) { tasks in
            for worker in 0..<clients {
                tasks.addTask {
                    var latencies: [Double] = [], statuses: [Int: Int] = [:]
                    for index in stride(from: worker, to: order.count, by: clients) {
                        var request = HTTPClientRequest(url: url)
                        request.method = .POST
                        request.headers.add(name: "Content-Type", value: "application/json")
                        request.body = .bytes(order[index])
                        let sent = DispatchTime.now().uptimeNanoseconds
                        let response = try await client.execute(request, timeout: .seconds(120))
                        _ = try await response.body.collect(upTo: 1 << 20)
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - sent) / 1e6)
                        statuses[Int(response.status.code), default: 0] += 1
                    }
                    return (latencies, statuses)
                }
            }
            return try await tasks.reduce(into: ([Double](), [Int: Int]())) { total, part in
                total.0 += part.0
                total.1.merge(part.1, uniquingKeysWith: +)
            }
        }
        let seconds = Date().timeIntervalSince(start)
        try await client.shutdown()
        // The runs: wait (up to 120 s) until as many journals as groups have finished, then count.
        let deadline = Date().addingTimeInterval(120)
        var runs: [String] = []
        repeat {
            runs = journals(state).filter { !seeded.contains($0) }
            if runs.count >= groups, runs.allSatisfy({ finished(state, $0) }) { break }
            usleep(200_000)
        } while Date() < deadline
        let sorted = latencies.sorted()
        let p50 = sorted.isEmpty ? 0 : sorted[sorted.count / 2], p99 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 99 / 100)]
        let ok = statuses.filter { (200..<300).contains($0.key) }.values.reduce(0, +)
        report("alert-storm", [("posts", posts), ("requests", order.count), ("clients", clients), ("seconds", seconds),
                               ("requests_per_second", Double(order.count) / seconds), ("p50_ms", p50), ("p99_ms", p99),
                               ("answers_2xx", ok), ("statuses", statuses.map { "\($0.key): \($0.value)" }.sorted()),
                               ("groups", groups), ("runs", runs.count), ("load_average", ServeThroughputBenchmark.loadAverage())],
               lines: [String(format: "alert-storm: %d distinct posts, %d requests (each twice, 1 in 5 three times) from %d clients in %.1f s (%.0f req/s)",
                              posts, order.count, clients, seconds, Double(order.count) / seconds),
                       String(format: "  acknowledgement p50 %.1f ms, p99 %.1f ms; 2xx %d of %d; runs %d for %d groups; load average %@",
                              p50, p99, ok, order.count, runs.count, groups, ServeThroughputBenchmark.loadAverage() as NSString)])
    }

    static func journals(_ state: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? []).filter { $0.hasSuffix(".jsonl") }
    }

    static func finished(_ state: String, _ journal: String) -> Bool {
        ((try? String(contentsOfFile: state + "/runs/" + journal, encoding: .utf8)) ?? "").contains("\"run_finished\"")
    }

    static func body(group: Int, members: [Int]) -> Data {
        let alerts: [[String: Any]] = members.map { member in
            ["status": "firing", "labels": ["alertname": "ServiceDown", "job": "svc-\(group)", "instance": "host-\(group)", "probe": "p\(member)"],
             "annotations": [:], "startsAt": "2026-12-06T05:00:00.\(String(format: "%03d", member))Z", "endsAt": "0001-01-01T00:00:00Z",
             "generatorURL": "", "fingerprint": String(format: "%08x%08x", group, member)]
        }
        let payload: [String: Any] = ["version": "4", "groupKey": "{}:{instance=\"host-\(group)\", job=\"svc-\(group)\"}", "truncatedAlerts": 0,
                                      "status": "firing", "receiver": "medic", "groupLabels": [:], "commonLabels": [:], "commonAnnotations": [:],
                                      "externalURL": "", "alerts": alerts]
        return try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
    }

    static func writeLibrary(in dir: URL) throws {
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try """
            actions:
              restart:
                type: infrastructure
                risk_level: low
                parameters: {service: required}
                implementation: echo "restart ${service} on ${target}" >> effects.log
            """.write(to: dir.appendingPathComponent("actions/storm.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: restart-service-001
            name: Restart a service
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              service: {type: string, required: true}
            remediation_steps:
              - {step: 1, name: restart, action: restart}
            metadata: {}
            """.write(to: dir.appendingPathComponent("playbooks/restart.yaml"), atomically: true, encoding: .utf8)
        try """
            routes:
              - match: {alertname: ServiceDown}
                playbook: restart-service-001
                parameters_from_labels: {service: job}
                target_label: instance
            """.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
    }
}
