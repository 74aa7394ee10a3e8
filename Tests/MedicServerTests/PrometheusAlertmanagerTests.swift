import Foundation
import MedicServeTestKit
import XCTest

/// The whole chain with real parts: a test exporter's gauge goes bad, a real Prometheus scrapes
/// it and fires an alert rule, a real Alertmanager posts the alert to `medic serve` (a real
/// process), Medic runs the playbook its route maps the alert to on the target named by the
/// alert's `instance` label, verifies the fix through Prometheus's HTTP API, and closes the
/// incident when Alertmanager posts the alert resolved. Skipped without `prometheus` and
/// `prometheus-alertmanager`, except under CI=true, where it fails (.ci/run installs them).
final class PrometheusAlertmanagerTests: XCTestCase {
    static let instance = "exporter-1"

    /// `unstick` notes its target in effects.log, waits for a `release` file (so that the test
    /// sees the alert firing before the fix), then sets the target's gauge to 0.
    static let actions = """
        actions:
          unstick:
            type: infrastructure
            risk_level: low
            parameters: {}
            implementation: |
              echo "unstick ${target}" >> effects.log
              while [ ! -e release ]; do sleep 0.1; done
              printf '0\\n' > "stuck-${target}"
        """

    /// Verified through the Prometheus source of metrics.yaml: the gauge of the alert's instance
    /// is 0 in Prometheus, checked every second for up to two minutes.
    static let playbook = """
        playbook_id: unstick-queue-001
        name: Unstick the queue
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          instance: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: unstick, action: unstick}
        verification:
          check: \(QueueExporter.metric){instance="${instance}"} == 0
          interval: 1s
          retry: 120
        metadata: {}
        """

    static let configuration = """
        routes:
          - match: {alertname: QueueStuck}
            playbook: unstick-queue-001
            parameters_from_labels: {instance: instance}
            target_label: instance
        """

    static let rules = """
        groups:
          - name: medic-test
            interval: 1s
            rules:
              - alert: QueueStuck
                expr: \(QueueExporter.metric) > 0
                for: 0s
                labels:
                  severity: SEV3
                annotations:
                  summary: "the queue of {{ $labels.instance }} is stuck"
        """

    func testAFiringAlertRunsTheMappedPlaybookOnItsInstanceAndItsResolutionClosesTheIncident() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-prometheus-\(UUID().uuidString)")
        // Registered first, so run last: the logs are printed and the processes stopped before.
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let stack = try PrometheusStack(self, in: dir)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try Self.actions.write(to: dir.appendingPathComponent("actions/queue.yaml"), atomically: true, encoding: .utf8)
        try Self.playbook.write(to: dir.appendingPathComponent("playbooks/unstick.yaml"), atomically: true, encoding: .utf8)
        try Self.configuration.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let gauge = dir.appendingPathComponent("stuck-\(Self.instance)")
        let release = dir.appendingPathComponent("release")
        try "0\n".write(to: gauge, atomically: true, encoding: .utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: release.path, contents: nil))

        // The exporter, and Prometheus scraping it under the label instance="exporter-1".
        let exporter = try await QueueExporter(self, gauge: gauge)
        try await stack.startPrometheus(scraping: "127.0.0.1:\(exporter.port)", labels: ["instance": Self.instance], rules: Self.rules)
        let query = "\(QueueExporter.metric){instance=\"\(Self.instance)\"}"
        _ = try await LoopbackHTTP.poll("Prometheus to have scraped \(query) = 0") { () async throws -> Bool? in
            try await self.value(of: query, in: stack) == "0" ? true : nil
        }

        // Medic: the route, and its metric sources reading Prometheus.
        try """
            metric_sources:
              - name: prometheus
                type: prometheus
                url: \(stack.prometheusURL)
                metrics: [\(QueueExporter.metric)]
                timeout: 10s
            """.write(to: dir.appendingPathComponent("metrics.yaml"), atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state").path
        let common = ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--metrics", dir.appendingPathComponent("metrics.yaml").path]
        // One manual run first, with the gauge good: an automated run of a playbook that never
        // succeeded here is a new incident type, which safe mode holds for a person's approval.
        let (seedStatus, seedErrors) = try MedicCommand.status(["run", "unstick-queue-001", "--param", "instance=\(Self.instance)",
                                                                "--target", Self.instance] + common, in: dir)
        XCTAssertEqual(seedStatus, 0, "the seed run: \(seedErrors)")
        try FileManager.default.removeItem(at: release)
        let serve = try await ServeProcess(self, in: dir, arguments: common + ["--config", dir.appendingPathComponent("medic.yaml").path, "--no-rules"])
        stack.medic = serve
        let seedRuns = try await runs(serve)
        XCTAssertEqual(seedRuns.count, 1, "the seed run")

        // Alertmanager posting to Medic, and Prometheus sending its alerts to Alertmanager.
        try await stack.startAlertmanager(webhook: serve.baseURL + "/api/v1/alerts")
        try await stack.sendAlerts()
        let queriesBefore = apiQueries(of: query, in: stack)

        // The gauge goes bad: Prometheus fires.
        try "1\n".write(to: gauge, atomically: true, encoding: .utf8)
        let alert = try await LoopbackHTTP.poll("Prometheus to fire QueueStuck\n\(stack.logs())") { () async -> [String: Any]? in
            let alerts = (await LoopbackHTTP.json(stack.prometheusURL + "/api/v1/alerts")?["data"] as? [String: Any])?["alerts"] as? [[String: Any]]
            return alerts?.first { ($0["labels"] as? [String: String])?["alertname"] == "QueueStuck" && $0["state"] as? String == "firing" }
        }
        XCTAssertEqual(alert["labels"] as? [String: String],
                       ["alertname": "QueueStuck", "instance": Self.instance, "job": "exporter", "severity": "SEV3"])

        // Alertmanager posts it: Medic's incident, routed, with the instance as its target.
        let incident = try await LoopbackHTTP.poll("Medic's incident for QueueStuck\n\(stack.logs())") { () async throws -> [String: Any]? in
            try await self.incidents(serve).first { ($0["labels"] as? [String: String])?["alertname"] == "QueueStuck" }
        }
        XCTAssertEqual(incident["status"] as? String, "firing")
        XCTAssertEqual(incident["handling"] as? String, "route")
        XCTAssertEqual(incident["playbook"] as? String, "unstick-queue-001")
        XCTAssertEqual(incident["target"] as? String, Self.instance)
        XCTAssertEqual(incident["parameters"] as? [String: String], ["instance": Self.instance])
        XCTAssertEqual(incident["receiver"] as? String, "medic", "the name of Alertmanager's receiver")
        XCTAssertEqual(incident["group_key"] as? String, "{}:{alertname=\"QueueStuck\", instance=\"\(Self.instance)\"}")
        let key = try XCTUnwrap(incident["key"] as? String)
        let runID = try XCTUnwrap(incident["run_id"] as? String, "\(incident)")
        // Alertmanager holds the same alert: its fingerprint is the incident's.
        _ = try await LoopbackHTTP.poll("Alertmanager to hold an alert of fingerprint \(incident["fingerprint"] ?? "")") { () async throws -> Bool? in
            guard let answer = await LoopbackHTTP.send(stack.alertmanagerURL + "/api/v2/alerts"), answer.status == 200 else { return nil }
            let held = (try? JSONSerialization.jsonObject(with: Data(answer.body.utf8))) as? [[String: Any]] ?? []
            return held.contains { $0["fingerprint"] as? String == incident["fingerprint"] as? String } ? true : nil
        }

        // The run is on the instance, waiting for the release: the alert still fires.
        _ = try await LoopbackHTTP.poll("the run's step to start on \(Self.instance)") { () -> Bool? in
            self.effects(in: dir) == ["unstick \(Self.instance)", "unstick \(Self.instance)"] ? true : nil
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: release.path, contents: nil))

        // The run succeeds, verified through Prometheus's HTTP API.
        let detail = try await LoopbackHTTP.poll("run \(runID) to finish\n\(stack.logs())") { () async -> [String: Any]? in
            let detail = await LoopbackHTTP.json(serve.baseURL + "/api/v1/runs/\(runID)")
            return detail?["status"] as? String == "finished" ? detail : nil
        }
        XCTAssertEqual((detail["run"] as? [String: Any])?["outcome"] as? String, "succeeded", "\(detail)")
        XCTAssertEqual((detail["run"] as? [String: Any])?["targets"] as? [String], [Self.instance])
        let timeline = detail["timeline"] as? [[String: Any]] ?? []
        let started = try XCTUnwrap(timeline.first { $0["event"] as? String == "run_started" })
        XCTAssertEqual(started["mode"] as? String, "automated")
        XCTAssertEqual((started["detection"] as? [String: Any])?["rule"] as? String, "alertmanager:QueueStuck")
        XCTAssertEqual((started["detection"] as? [String: Any])?["incident_key"] as? String, key)
        XCTAssertEqual(timeline.filter { $0["event"] as? String == "target_started" }.map { $0["target"] as? String }, [Self.instance])
        let verification = try XCTUnwrap(timeline.first { $0["event"] as? String == "verification_finished" }?["verification"] as? [String: Any])
        XCTAssertEqual(verification["state"] as? String, "SUCCESS")
        XCTAssertTrue((verification["summary"] as? String ?? "").hasSuffix("last: \(query)=0"), "\(verification)")
        XCTAssertEqual(try String(contentsOf: gauge, encoding: .utf8), "0\n", "the step fixed the gauge of its target")
        XCTAssertGreaterThan(apiQueries(of: query, in: stack), queriesBefore, "Prometheus's query log has no query of the verification")

        // The gauge is good again: Prometheus resolves, Alertmanager posts it resolved, the
        // incident is resolved.
        _ = try await LoopbackHTTP.poll("Prometheus to resolve QueueStuck\n\(stack.logs())") { () async throws -> Bool? in
            let alerts = (await LoopbackHTTP.json(stack.prometheusURL + "/api/v1/alerts")?["data"] as? [String: Any])?["alerts"] as? [[String: Any]]
            return alerts.map { $0.isEmpty } == true ? true : nil
        }
        let resolved = try await LoopbackHTTP.poll("Medic's incident \(key) to be resolved\n\(stack.logs())") { () async throws -> [String: Any]? in
            try await self.incidents(serve).first { $0["key"] as? String == key && $0["status"] as? String == "resolved" }
        }
        XCTAssertNotNil(resolved["resolved_at"] as? String)
        // One incident, one run (the seed and this one), however often Alertmanager posted.
        let finalIncidents = try await incidents(serve)
        XCTAssertEqual(finalIncidents.count, 1, "\(finalIncidents)")
        let finalRuns = try await runs(serve)
        XCTAssertEqual(Set(finalRuns.compactMap { $0["id"] as? String }), Set(seedRuns.compactMap { $0["id"] as? String } + [runID]))
    }

    private func incidents(_ serve: ServeProcess) async throws -> [[String: Any]] {
        let answer = try await serve.get("/api/v1/incidents")
        XCTAssertEqual(answer.status, 200, answer.body)
        return answer.json["incidents"] as? [[String: Any]] ?? []
    }

    private func runs(_ serve: ServeProcess) async throws -> [[String: Any]] {
        let answer = try await serve.get("/api/v1/runs?playbook=unstick-queue-001")
        XCTAssertEqual(answer.status, 200, answer.body)
        return answer.json["runs"] as? [[String: Any]] ?? []
    }

    private func effects(in dir: URL) -> [String] {
        ((try? String(contentsOf: dir.appendingPathComponent("effects.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// The value of the one series `query` selects, as Prometheus's HTTP API answers it.
    private func value(of query: String, in stack: PrometheusStack) async throws -> String? {
        let encoded = query.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? query
        let answer = await LoopbackHTTP.json(stack.prometheusURL + "/api/v1/query?query=\(encoded)")
        let result = (answer?["data"] as? [String: Any])?["result"] as? [[String: Any]] ?? []
        return result.count == 1 ? (result[0]["value"] as? [Any])?.last as? String : nil
    }

    /// How many times Prometheus's HTTP API answered exactly `query` (its query log).
    private func apiQueries(of query: String, in stack: PrometheusStack) -> Int {
        let text = (try? String(contentsOf: stack.queryLog, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").filter { line in
            guard let entry = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] else { return false }
            return entry["httpRequest"] != nil && (entry["params"] as? [String: Any])?["query"] as? String == query
        }.count
    }
}
