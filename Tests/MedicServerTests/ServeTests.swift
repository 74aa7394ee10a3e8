import Foundation
import MedicServeTestKit
import MedicEngine
import MedicServer
import XCTest

/// `medic serve` over real HTTP: the binary started as a process on a free port, a library and a
/// state directory of the test's own, Alertmanager's posts as Alertmanager sends them.
final class ServeTests: XCTestCase {
    /// `restart` appends `restart <service> on <target>` to effects.log (the shell steps run in
    /// the workspace, `--workdir`); `linger` writes `started`, waits for a `release` file, then
    /// writes `released`.
    static let actions = """
        actions:
          restart:
            type: infrastructure
            risk_level: low
            parameters: {service: required}
            implementation: echo "restart ${service} on ${target}" >> effects.log
          linger:
            type: infrastructure
            risk_level: low
            parameters: {}
            implementation: |
              echo started >> effects.log
              while [ ! -e release ]; do sleep 0.05; done
              echo released >> effects.log
        """

    static let playbooks = [
        """
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
        """,
        """
        playbook_id: linger-001
        name: Lingers until released
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: linger, action: linger}
        metadata: {}
        """,
    ]

    static let config = """
        routes:
          - match: {alertname: ServiceDown}
            playbook: restart-service-001
            parameters_from_labels: {service: job}
            target_label: instance
        """

    struct Workspace {
        let dir: URL
        /// The journals of the seed runs (see `workspace()`).
        var seeded: [String] = []
        var state: String { dir.appendingPathComponent("state").path }
        var effects: [String] {
            ((try? String(contentsOf: dir.appendingPathComponent("effects.log"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        /// The journals of the runs the server started (the seed runs left out).
        var journals: [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: state + "/runs")) ?? []).filter { $0.hasSuffix(".jsonl") && !seeded.contains($0) }.sorted()
        }
        var arguments: [String] { ["--root", dir.path, "--state-dir", state, "--workdir", dir.path, "--config", dir.appendingPathComponent("medic.yaml").path] }

        func journal(_ runID: String) -> [[String: Any]] {
            let text = (try? String(contentsOfFile: state + "/runs/\(runID).jsonl", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }

        func finished(_ runID: String) -> [String: Any]? {
            journal(runID).first { $0["event"] as? String == "run_finished" }
        }
    }

    func workspace() throws -> Workspace { try Self.workspace(for: self) }

    /// The seed runs of `workspace(for:)`: one manual run of each playbook.
    static let everyPlaybookOnce = [["restart-service-001", "--param", "service=seed", "--target", "seed"], ["linger-001"]]

    /// This library and its configuration in a temporary folder of `test`, with `seeds` run by
    /// hand first: an automated run of a playbook that never succeeded here is a new incident
    /// type, which safe mode holds for a person's approval. The seed runs are left out of
    /// `journals` and their effects cleared.
    static func workspace(for test: XCTestCase, seeds: [[String]] = everyPlaybookOnce) throws -> Workspace {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-serve-\(UUID().uuidString)")
        test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try actions.write(to: dir.appendingPathComponent("actions/test.yaml"), atomically: true, encoding: .utf8)
        for (index, playbook) in playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(index).yaml"), atomically: true, encoding: .utf8)
        }
        try config.write(to: dir.appendingPathComponent("medic.yaml"), atomically: true, encoding: .utf8)
        var ws = Workspace(dir: dir)
        let release = dir.appendingPathComponent("release").path
        XCTAssertTrue(FileManager.default.createFile(atPath: release, contents: nil))
        for seed in seeds {
            let (status, stderr) = try MedicCommand.status(["run"] + seed + ["--root", dir.path, "--state-dir", ws.state, "--workdir", dir.path], in: dir)
            XCTAssertEqual(status, 0, "seed run \(seed): \(stderr)")
        }
        try FileManager.default.removeItem(atPath: release)
        try FileManager.default.removeItem(at: dir.appendingPathComponent("effects.log"))
        ws.seeded = ws.journals
        XCTAssertEqual(ws.seeded.count, seeds.count)
        return ws
    }

    /// An Alertmanager version 4 post of one alert.
    static func post(status: String = "firing", labels: [String: String], fingerprint: String = "a1b2c3d4e5f60718",
                     startsAt: String = "2026-12-06T05:00:00.123456789Z", endsAt: String = "0001-01-01T00:00:00Z") -> Data {
        let alert: [String: Any] = [
            "status": status, "labels": labels, "annotations": ["summary": "it is down"], "startsAt": startsAt, "endsAt": endsAt,
            "generatorURL": "http://prometheus.example/graph?g0.expr=up", "fingerprint": fingerprint,
        ]
        let payload: [String: Any] = [
            "version": "4", "groupKey": "{}:{alertname=\"\(labels["alertname"] ?? "")\"}", "truncatedAlerts": 0, "status": status,
            "receiver": "medic", "groupLabels": ["alertname": labels["alertname"] ?? ""], "commonLabels": labels,
            "commonAnnotations": ["summary": "it is down"], "externalURL": "http://alertmanager.example", "alerts": [alert],
        ]
        return try! JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
    }

    func testHealthzAndReadyzAnswer() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200)
        XCTAssertEqual(health.json["status"] as? String, "alive")
        let ready = try await serve.get("/readyz")
        XCTAssertEqual(ready.status, 200, ready.body)
        XCTAssertEqual(ready.json["ready"] as? Bool, true, ready.body)
        let unknown = try await serve.get("/no-such-route")
        XCTAssertEqual(unknown.status, 404)
    }

    func testAFiringAlertRunsTheRoutedPlaybookOnTheLabelledTargetWithParametersFromLabels() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let answer = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "ServiceDown", "job": "checkout", "instance": "web-3"]))
        XCTAssertEqual(answer.status, 200, answer.body)
        let incident = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first, answer.body)
        XCTAssertEqual(incident["outcome"] as? String, "opened")
        XCTAssertEqual(incident["playbook"] as? String, "restart-service-001")
        XCTAssertEqual(incident["target"] as? String, "web-3")
        let runID = try XCTUnwrap(incident["run"] as? String)
        let finished = try await ServeProcess.poll("run \(runID) to finish (stderr: \(serve.stderr))") { ws.finished(runID) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded", "\(ws.journal(runID))")
        XCTAssertEqual(ws.effects, ["restart checkout on web-3"])
        let started = try XCTUnwrap(ws.journal(runID).first)
        XCTAssertEqual(started["event"] as? String, "run_started")
        XCTAssertEqual(started["mode"] as? String, "automated")
        XCTAssertTrue(ws.journal(runID).contains { $0["target"] as? String == "web-3" }, "the journal names the target: \(ws.journal(runID))")
        let detection = try XCTUnwrap(started["detection"] as? [String: Any], "\(started)")
        XCTAssertEqual(detection["incident_key"] as? String ?? detection["incidentKey"] as? String, incident["key"] as? String)
    }

    func testAnAlertWithoutARouteRunsThePlaybookNamedByItsAlertnameOrIsRecordedUnhandled() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let named = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "linger-001"], fingerprint: "f1"))
        XCTAssertEqual((named.json["incidents"] as? [[String: Any]])?.first?["handling"] as? String, "alertname", named.body)
        let unknown = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "DiskFull"], fingerprint: "f2"))
        let unhandled = try XCTUnwrap((unknown.json["incidents"] as? [[String: Any]])?.first, unknown.body)
        XCTAssertEqual(unhandled["handling"] as? String, "unhandled")
        XCTAssertNil(unhandled["run"])
        XCTAssertTrue((unhandled["reason"] as? String ?? "").contains("DiskFull"), unknown.body)
        _ = try await ServeProcess.poll("the linger run to start") { ws.effects.contains("started") ? true : nil }
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        _ = try await ServeProcess.poll("the linger run to end") { ws.effects.contains("released") ? true : nil }
        XCTAssertEqual(ws.journals.count, 1, "only the named playbook ran: \(ws.journals)")
    }

    func testTheSamePostTwentyTimesAtOnceAndRetriedStartsExactlyOneRun() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let body = Self.post(labels: ["alertname": "ServiceDown", "job": "cart", "instance": "web-1"])
        let answers = try await withThrowingTaskGroup(of: ServeProcess.Answer.self) { group in
            for _ in 0..<20 { group.addTask { try await serve.post("/api/v1/alerts", body: body) } }
            return try await group.reduce(into: [ServeProcess.Answer]()) { $0.append($1) }
        }
        XCTAssertEqual(answers.map(\.status), Array(repeating: 200, count: 20))
        let outcomes = answers.compactMap { ($0.json["incidents"] as? [[String: Any]])?.first?["outcome"] as? String }
        XCTAssertEqual(outcomes.filter { $0 == "opened" }.count, 1, "\(outcomes)")
        XCTAssertEqual(outcomes.filter { $0 == "existing" }.count, 19, "\(outcomes)")
        let runIDs = Set(answers.compactMap { ($0.json["incidents"] as? [[String: Any]])?.first?["run"] as? String })
        XCTAssertEqual(runIDs.count, 1, "every answer names the one run: \(runIDs)")
        let runID = try XCTUnwrap(runIDs.first)
        _ = try await ServeProcess.poll("run \(runID) to finish") { ws.finished(runID) }
        // Alertmanager retries, and repeats the firing alert every repeat_interval.
        for _ in 0..<3 {
            let retried = try await serve.post("/api/v1/alerts", body: body)
            XCTAssertEqual((retried.json["incidents"] as? [[String: Any]])?.first?["outcome"] as? String, "existing", retried.body)
        }
        XCTAssertEqual(ws.journals, [runID + ".jsonl"])
        XCTAssertEqual(ws.effects, ["restart cart on web-1"])
    }

    func testAResolvedAlertResolvesItsIncident() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let labels = ["alertname": "ServiceDown", "job": "cart", "instance": "web-1"]
        let opened = try await serve.post("/api/v1/alerts", body: Self.post(labels: labels))
        let key = try XCTUnwrap((opened.json["incidents"] as? [[String: Any]])?.first?["key"] as? String, opened.body)
        let resolved = try await serve.post("/api/v1/alerts", body: Self.post(status: "resolved", labels: labels, endsAt: "2026-12-06T05:10:00Z"))
        XCTAssertEqual(resolved.status, 200, resolved.body)
        let incident = try XCTUnwrap((resolved.json["incidents"] as? [[String: Any]])?.first, resolved.body)
        XCTAssertEqual(incident["outcome"] as? String, "resolved")
        XCTAssertEqual(incident["key"] as? String, key)
        let stored = try XCTUnwrap(try FileIncidentStore(stateDirectory: ws.state).incident(key: key))
        XCTAssertEqual(stored.status, .resolved)
        XCTAssertEqual(stored.resolvedAt, "2026-12-06T05:10:00.000Z")
        let never = try await serve.post("/api/v1/alerts", body: Self.post(status: "resolved", labels: labels, fingerprint: "0ther"))
        XCTAssertEqual((never.json["incidents"] as? [[String: Any]])?.first?["outcome"] as? String, "unknown", never.body)
    }

    func testBadPostsGetTheirErrorNamingTheFieldAndChangeNothing() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let valid = String(decoding: Self.post(labels: ["alertname": "ServiceDown", "job": "a", "instance": "b"]), as: UTF8.self)
        let cases: [(body: String, field: String?)] = [
            ("{\"version\": \"4\", ", nil),
            (valid.replacingOccurrences(of: "\"truncatedAlerts\":0", with: "\"truncatedAlerts\":\"none\""), "truncatedAlerts"),
            (valid.replacingOccurrences(of: "\"job\":\"a\"},\"startsAt\"", with: "\"job\":7},\"startsAt\""), "alerts[0].labels.job"),
            (valid.replacingOccurrences(of: "\"fingerprint\":\"a1b2c3d4e5f60718\",", with: ""), "alerts[0].fingerprint"),
            (valid.replacingOccurrences(of: "\"groupKey\"", with: "\"groupkey\""), "groupKey"),
            (valid.replacingOccurrences(of: "\"version\":\"4\"", with: "\"version\":\"3\""), "version"),
            (valid.replacingOccurrences(of: "\"startsAt\":\"2026-12-06T05:00:00.123456789Z\"", with: "\"startsAt\":\"yesterday\""), "alerts[0].startsAt"),
            (valid.replacingOccurrences(of: "\"fingerprint\":\"a1b2c3d4e5f60718\"", with: "\"fingerprint\":\"../../etc\""), "alerts[0].fingerprint"),
            (valid.replacingOccurrences(of: "\"status\":\"firing\"}]", with: "\"status\":\"burning\"}]"), "alerts[0].status"),
        ]
        for (body, field) in cases {
            XCTAssertNotEqual(body, valid, "the case changes the valid post")
            let answer = try await serve.post("/api/v1/alerts", body: Data(body.utf8))
            XCTAssertEqual(answer.status, 400, "\(body): \(answer.body)")
            XCTAssertNotNil(answer.json["error"] as? String, answer.body)
            if let field { XCTAssertEqual(answer.json["field"] as? String, field, "\(body): \(answer.body)") }
        }
        let huge = try await serve.post("/api/v1/alerts", body: Data(repeating: UInt8(ascii: " "), count: 2 << 20))
        XCTAssertEqual(huge.status, 413, huge.body)
        XCTAssertNotNil(huge.json["error"] as? String, huge.body)
        let text = try await serve.post("/api/v1/alerts", body: Data(valid.utf8), contentType: "text/plain")
        XCTAssertEqual(text.status, 415, text.body)
        let none = try await serve.post("/api/v1/alerts", body: Data(valid.utf8), contentType: nil)
        XCTAssertEqual(none.status, 415, none.body)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: ws.state + "/incidents").filter { !$0.hasPrefix(".") }, [],
                       "no bad post opened an incident")
        let health = try await serve.get("/healthz")
        XCTAssertEqual(health.status, 200, "the server still answers")
        XCTAssertEqual(ws.journals, [])
    }

    func testSIGTERMLetsARunInFlightFinishWithinTheGracePeriodAndExitsZero() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--grace", "120"])
        let answer = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "linger-001"]))
        let runID = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
        _ = try await ServeProcess.poll("the run to start") { ws.effects.contains("started") ? true : nil }
        kill(serve.process.processIdentifier, SIGTERM)
        // The server stops taking requests but the run goes on until it is released.
        // Refused, or accepted by the kernel's backlog and never answered: either way not served.
        var closed = false
        for _ in 0..<1200 where !closed {
            closed = (try? await serve.get("/healthz", timeout: 5)) == nil
            if !closed { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(closed, "the listener closed at SIGTERM")
        XCTAssertTrue(serve.process.isRunning, "the server waits for its run: \(serve.stderr)")
        XCTAssertTrue(FileManager.default.createFile(atPath: ws.dir.appendingPathComponent("release").path, contents: nil))
        let status = try await serve.exitStatus()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertEqual(ws.finished(runID)?["outcome"] as? String, "succeeded", "\(ws.journal(runID))")
    }

    func testSIGTERMEndsARunStillGoingAfterTheGracePeriodLeavingItInterruptedAndExitsZero() async throws {
        let ws = try workspace()
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments + ["--grace", "0.5"])
        let answer = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "linger-001"]))
        let runID = try XCTUnwrap((answer.json["incidents"] as? [[String: Any]])?.first?["run"] as? String, answer.body)
        _ = try await ServeProcess.poll("the run to start") { ws.effects.contains("started") ? true : nil }
        let status = try await serve.stop()
        XCTAssertEqual(status, 0, serve.stderr)
        XCTAssertNil(ws.finished(runID), "the run was ended, not finished: \(ws.journal(runID))")
        XCTAssertFalse(ws.effects.contains("released"))
        let runs = try MedicCommand.run(["runs", "--json", "--state-dir", ws.state], in: ws.dir)
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(runs.utf8)) as? [[String: Any]], runs)
        XCTAssertEqual(listed.first { $0["id"] as? String == runID }?["status"] as? String, "interrupted", runs)
    }

    func testAnIncidentLeftWithoutItsRunIsPickedUpAtTheNextStart() async throws {
        let ws = try workspace()
        // What a server killed between its answer and the run's start leaves: the incident, durable, and no journal.
        let catalog = try CatalogStage().run(root: ws.dir.path)
        let (configuration, problems) = ServeConfiguration.load(path: ws.dir.appendingPathComponent("medic.yaml").path, catalog: catalog)
        XCTAssertEqual(problems.count, 0, "\(problems)")
        let intake = AlertIntake(catalog: catalog, configuration: try XCTUnwrap(configuration), store: try FileIncidentStore(stateDirectory: ws.state))
        let payload = try AlertmanagerPayload.decode(Self.post(labels: ["alertname": "ServiceDown", "job": "api", "instance": "web-9"]))
        let outcomes = try await intake.accept(payload, now: Date())
        let outcome = try XCTUnwrap(outcomes.first)
        XCTAssertEqual(outcome.kind, .opened)
        let runID = try XCTUnwrap(outcome.incident?.runID)
        XCTAssertEqual(ws.journals, [])
        let serve = try await ServeProcess(self, in: ws.dir, arguments: ws.arguments)
        let finished = try await ServeProcess.poll("the picked-up run to finish (stderr: \(serve.stderr))") { ws.finished(runID) }
        XCTAssertEqual(finished["outcome"] as? String, "succeeded")
        XCTAssertEqual(ws.effects, ["restart api on web-9"])
        let again = try await serve.post("/api/v1/alerts", body: Self.post(labels: ["alertname": "ServiceDown", "job": "api", "instance": "web-9"]))
        XCTAssertEqual((again.json["incidents"] as? [[String: Any]])?.first?["outcome"] as? String, "existing", again.body)
        XCTAssertEqual(ws.journals, [runID + ".jsonl"])
    }

    func testAConfigurationWithErrorsIsRefusedWithEachErrorLocated() throws {
        let ws = try workspace()
        let bad = ws.dir.appendingPathComponent("bad.yaml")
        try """
            routes:
              - match: {alertname: DiskFull}
                playbook: no-such-playbook
                target_lable: instance
            """.write(to: bad, atomically: true, encoding: .utf8)
        let (status, stderr) = try MedicCommand.status(["serve", "--root", ws.dir.path, "--state-dir", ws.state, "--config", bad.path,
                                                        "--listen", "127.0.0.1:0"], in: ws.dir)
        XCTAssertEqual(status, 1, stderr)
        XCTAssertTrue(stderr.contains("bad.yaml:3:"), "the unknown playbook, located: \(stderr)")
        XCTAssertTrue(stderr.contains("no-such-playbook"), stderr)
        XCTAssertTrue(stderr.contains("bad.yaml:4:") && stderr.contains("target_lable"), "the unknown key, located: \(stderr)")
    }

    /// Accepted with tokens: `APIAccessTests.testListeningBeyondLoopbackIsAcceptedWithTokens`.
    func testListeningBeyondLoopbackIsRefusedWithoutTokens() throws {
        let ws = try workspace()
        // "½" and "²" are numbers to Swift's `isNumber` but not digits: refused, never a crash.
        for address in ["0.0.0.0:0", "[::]:0", "192.0.2.10:9797", "½.0.0.1:0", "127.0.0.²:0"] {
            let (status, stderr) = try MedicCommand.status(["serve", "--listen", address] + ws.arguments, in: ws.dir)
            XCTAssertEqual(status, 2, "\(address): \(stderr)")
            XCTAssertTrue(stderr.contains("tokens"), "\(address): \(stderr)")
        }
    }
}

/// `medic` run to its end (bounded), for the commands around the server.
enum MedicCommand {
    static func status(_ arguments: [String], in directory: URL) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let errors = Pipe(), output = Pipe()
        process.standardError = errors
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        _ = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: err, as: UTF8.self))
    }

    static func run(_ arguments: [String], in directory: URL) throws -> String {
        let process = Process()
        process.executableURL = ServeProcess.binary
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }
}
