import Foundation
import MedicServeTestKit
import XCTest

/// `GET /metrics` of a real `medic serve`, read as Prometheus would: the exposition text parsed
/// into samples (name, labels, value), never matched line by line.
final class ServerMetricsTests: XCTestCase {
    /// One sample of the exposition text.
    struct Sample: Equatable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples and the `# TYPE` of each family, from the text format 0.0.4: `name{a="b",c="d"} value`.
    static func parse(_ text: String) -> (samples: [Sample], types: [String: String]) {
        var samples: [Sample] = []
        var types: [String: String] = [:]
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst("# TYPE ".count).split(separator: " ")
                if parts.count == 2 { types[String(parts[0])] = String(parts[1]) }
                continue
            }
            if line.hasPrefix("#") || line.isEmpty { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            let series = line[..<space]
            guard let brace = series.firstIndex(of: "{") else {
                samples.append(Sample(name: String(series), labels: [:], value: value))
                continue
            }
            var labels: [String: String] = [:]
            var rest = series[series.index(after: brace)...].dropLast()  // the closing brace
            while let equals = rest.firstIndex(of: "=") {
                let key = rest[..<equals].trimmingCharacters(in: CharacterSet(charactersIn: ", "))
                var cursor = rest.index(equals, offsetBy: 2)  // past ="
                var labelValue = ""
                while cursor < rest.endIndex, rest[cursor] != "\"" {
                    if rest[cursor] == "\\" { cursor = rest.index(after: cursor) }
                    labelValue.append(rest[cursor])
                    cursor = rest.index(after: cursor)
                }
                labels[key] = labelValue
                rest = cursor < rest.endIndex ? rest[rest.index(after: cursor)...] : rest[rest.endIndex...]
            }
            samples.append(Sample(name: String(series[..<brace]), labels: labels, value: value))
        }
        return (samples, types)
    }

    /// The value of the one sample named `name` whose labels include `labels`; nil when there is none.
    static func value(_ samples: [Sample], _ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }
        return matching.count == 1 ? matching[0].value : nil
    }

    func testMetricsAfterAnAlertTriggeredRunShowItsOutcomeStepsGatesTimesAndTheWebhookRequests() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-metrics-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try ServeTests.actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        try ServeTests.playbooks[0].write(to: dir.appendingPathComponent("playbooks/p0.yaml"), atomically: true, encoding: .utf8)
        try ServeTests.config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        let state = dir.appendingPathComponent("state").path
        // A manual run first, or safe mode holds the automated run of a new incident type.
        let (status, stderr) = try MedicCommand.status(["run", "restart-service-001", "--param", "service=seed", "--target", "seed",
                                                        "--root", dir.path, "--state-dir", state, "--workdir", dir.path], in: dir)
        XCTAssertEqual(status, 0, stderr)
        let serve = try await ServeProcess(self, in: dir, arguments: ["--root", dir.path, "--state-dir", state, "--workdir", dir.path,
                                                                      "--config", dir.appendingPathComponent("medic.yaml").path])

        let before = Self.parse(try await serve.get("/metrics").body).samples
        XCTAssertNil(Self.value(before, "medic_runs_total", ["playbook": "restart-service-001"]), "no run yet")

        let answer = try await serve.post("/api/v1/alerts", body: ServeTests.post(labels: ["alertname": "ServiceDown", "job": "checkout", "instance": "web-3"]))
        XCTAssertEqual(answer.status, 200, answer.body)
        _ = try await serve.get("/no-such-route")

        // Polled (bounded): the run goes on in the background after the answer.
        var scraped = Self.parse("")
        let deadline = Date().addingTimeInterval(60)
        while Self.value(scraped.samples, "medic_runs_total", ["playbook": "restart-service-001"]) == nil {
            guard Date() < deadline else { return XCTFail("the run was not counted in 60 s (stderr: \(serve.stderr))") }
            try await Task.sleep(nanoseconds: 50_000_000)
            scraped = Self.parse(try await serve.get("/metrics").body)
        }
        let samples = scraped.samples
        XCTAssertEqual(scraped.types["medic_runs_total"], "counter")
        XCTAssertEqual(scraped.types["medic_step_duration_seconds"], "histogram")
        XCTAssertEqual(Self.value(samples, "medic_runs_total", ["playbook": "restart-service-001", "outcome": "succeeded"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_step_duration_seconds_count", ["playbook": "restart-service-001", "phase": "step", "result": "succeeded"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_step_duration_seconds_bucket", ["playbook": "restart-service-001", "phase": "step", "le": "+Inf"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_time_to_detect_seconds_count", ["playbook": "restart-service-001"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_time_to_recover_seconds_count", ["playbook": "restart-service-001"]), 1)
        let gateSamples = samples.filter { $0.name == "medic_gate_verdicts_total" }
        XCTAssertFalse(gateSamples.isEmpty, "the run's gate verdicts are counted")
        XCTAssertTrue(gateSamples.contains { $0.labels["gate"] == "kill_switch" && $0.labels["verdict"] == "pass" && $0.value == 1 }, "\(gateSamples)")
        XCTAssertEqual(Self.value(samples, "medic_http_requests_total", ["route": "/api/v1/alerts", "method": "POST", "code": "200"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_http_requests_total", ["route": "unmatched", "method": "GET", "code": "404"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_http_request_duration_seconds_count", ["route": "/api/v1/alerts", "method": "POST"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_open_incidents"), 1)
        XCTAssertEqual(Self.value(samples, "medic_breaker_state", ["playbook": "restart-service-001", "state": "closed"]), 1)
        XCTAssertEqual(Self.value(samples, "medic_breaker_state", ["playbook": "restart-service-001", "state": "open"]), 0)

        let resolved = try await serve.post("/api/v1/alerts", body: ServeTests.post(status: "resolved", labels: ["alertname": "ServiceDown", "job": "checkout", "instance": "web-3"],
                                                                                    endsAt: "2026-12-06T05:10:00Z"))
        XCTAssertEqual(resolved.status, 200, resolved.body)
        let after = Self.parse(try await serve.get("/metrics").body).samples
        XCTAssertEqual(Self.value(after, "medic_open_incidents"), 0)
        XCTAssertEqual(Self.value(after, "medic_http_requests_total", ["route": "/api/v1/alerts", "method": "POST", "code": "200"]), 2)
    }
}
