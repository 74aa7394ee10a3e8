import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// Rule-triggered runs through the library: samples in, a run per incident through the gates
/// and the interpreter (recording executors, a real journal), folding, dry runs, detection times.
final class WatcherTests: XCTestCase {
    private let library = CleanLibrary.files(rules: CleanLibrary.rules(extraRules: """
          - name: nobody-owns-it
            metric: queue_depth
            detector: threshold
            params: {op: ">", value: 100}
            severity: SEV3
        """))

    private struct Harness {
        var watcher: Watcher
        var shell: RecordingExecutor
        var store: RunStore
        var events: EventLog
    }

    final class EventLog: @unchecked Sendable {
        private let lock = NSLock()
        private var all: [WatchEvent] = []
        func add(_ event: WatchEvent) { lock.withLock { all.append(event) } }
        var events: [WatchEvent] { lock.withLock { all } }
        var names: [String] {
            events.map {
                switch $0 {
                case .pending: "pending"
                case .incident: "incident"
                case .suppressed: "suppressed"
                case .folded: "folded"
                case .unhandled: "unhandled"
                case .planned: "planned"
                case .runStarted: "run_started"
                case .runFinished: "run_finished"
                case .runDecided: "run_decided"
                case .runFailed: "run_failed"
                case .resolved: "resolved"
                }
            }
        }
    }

    private func harness(dryRun: Bool = false, seeded: Bool = true, shell respond: @escaping @Sendable (ExecutionRequest) -> ExecutionResult = { _ in
        ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
    }) async throws -> Harness {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-watch-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        let store = try RunStore(directory: dir.path)
        let shell = RecordingExecutor(respond: respond)
        let clock = SystemClock()
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        // Safe mode asks a person to approve an automated run of a playbook that has never
        // succeeded here (a new incident type): one manual run first gives it that history.
        if seeded {
            let plan = try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbook(id: "clean-001")), given: ["path": "/seed"])
            let quiet = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: RecordingExecutor(), http: RecordingExecutor()),
                                    verifier: interpreter.verifier, clock: clock)
            let seed = try await quiet.start(plan, in: store)
            XCTAssertEqual(seed.outcome, .succeeded)
        }
        let log = EventLog()
        let watcher = Watcher(engine: RuleEngine(catalog: loaded.catalog), catalog: loaded.catalog, interpreter: interpreter,
                              stores: .files(store), stateDirectory: store.directory, options: Watcher.Options(dryRun: dryRun), report: log.add)
        return Harness(watcher: watcher, shell: shell, store: store, events: log)
    }

    private func disk(_ value: Double, at time: Double, path: String = "/var") -> Sample {
        Sample(metric: "disk_usage_percent", labels: ["path": path], time: 1_800_000_000 + time, value: value)
    }

    func testARuleThatFiresStartsOneAutomatedRunWithTheIncidentsParametersAndDetectionTimes() async throws {
        let h = try await harness()
        for (t, v) in [(0.0, 50.0), (10, 90), (40, 92), (70, 95), (80, 96)] { await h.watcher.ingest(disk(v, at: t)) }
        let outcomes = await h.watcher.drain()
        XCTAssertEqual(Array(h.events.names.prefix(4)), ["pending", "incident", "run_started", "run_finished"])
        XCTAssertEqual(outcomes.count, 1)
        XCTAssertEqual(outcomes.values.first ?? nil, .succeeded)
        XCTAssertEqual(h.shell.requests.map { $0.parameters["path"] }, ["/var"], "the label became the playbook's parameter")
        let run = try XCTUnwrap(h.store.list().runs.first { $0.id == outcomes.keys.first })
        let startedRecords = try await h.store.read(runID: run.id).records
        let started = try XCTUnwrap(startedRecords.first)
        XCTAssertEqual(started.mode, .automated)
        let detection = try XCTUnwrap(started.detection)
        XCTAssertEqual(detection.rule, "disk-filling")
        XCTAssertEqual(detection.firstSeen, "2027-01-15T08:00:10.000Z", "the first anomalous sample")
        XCTAssertEqual(detection.firedAt, "2027-01-15T08:01:10.000Z", "60 s later, when for: was complete")
    }

    func testAFiringWhileItsKeysRunGoesIsFoldedIntoThatRun() async throws {
        // The run's step is held inside its executor until the test lets it go; meanwhile the feed
        // goes on: the incident resolves after 300 s of normal samples and the same key fires
        // again (no cooldown), while the first run is certainly still going.
        let entered = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let h = try await harness(shell: { _ in
            entered.signal()
            // Bounded, so that a broken watcher fails the test instead of hanging it.
            _ = release.wait(timeout: .now() + 120)
            return ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
        })
        for t in stride(from: 0.0, through: 60, by: 10) { await h.watcher.ingest(disk(95, at: t)) }
        var running = false
        for _ in 0..<6000 where !running {
            running = entered.wait(timeout: .now()) == .success
            if !running { try await Task.sleep(nanoseconds: 10_000_000) }
        }
        XCTAssertTrue(running, "the first run's step started")
        for t in stride(from: 70.0, through: 400, by: 10) { await h.watcher.ingest(disk(50, at: t)) }
        for t in stride(from: 410.0, through: 480, by: 10) { await h.watcher.ingest(disk(95, at: t)) }
        XCTAssertEqual(h.events.names.filter { $0 == "run_finished" }.count, 0, "the first run was still going when its key fired again")
        release.signal()
        _ = await h.watcher.drain()
        let names = h.events.names
        XCTAssertEqual(names.filter { $0 == "incident" }.count, 2, names.joined(separator: " "))
        XCTAssertEqual(names.filter { $0 == "run_started" }.count, 1, names.joined(separator: " "))
        XCTAssertTrue(names.contains("folded"), names.joined(separator: " "))
        XCTAssertEqual(h.shell.requests.count, 1)
    }

    func testDryRunPlansWithTheGatesVerdictsAndRunsNothing() async throws {
        let h = try await harness(dryRun: true)
        for (t, v) in [(0.0, 90.0), (60, 91)] { await h.watcher.ingest(disk(v, at: t)) }
        _ = await h.watcher.drain()
        guard case .planned(_, let plan)? = h.events.events.first(where: { if case .planned = $0 { true } else { false } }) else {
            return XCTFail("no plan: \(h.events.names)")
        }
        XCTAssertEqual(plan.playbookID, "clean-001")
        XCTAssertFalse(plan.gates.isEmpty, "the gates' verdicts, as an automated run would meet them")
        XCTAssertEqual(plan.parameters.first { $0.name == "path" }?.value, "/var")
        XCTAssertTrue(h.shell.requests.isEmpty)
        XCTAssertEqual(h.store.list().runs.count, 1, "the seeded run alone")
    }

    func testAnAutomatedRunOfANewIncidentTypeWaitsForApproval() async throws {
        let h = try await harness(seeded: false)
        for (t, v) in [(0.0, 90.0), (60, 91)] { await h.watcher.ingest(disk(v, at: t)) }
        _ = await h.watcher.drain()
        guard case .runFinished(_, let report)? = h.events.events.last(where: { if case .runFinished = $0 { true } else { false } }) else {
            return XCTFail("no run: \(h.events.names)")
        }
        XCTAssertEqual(report.status, .pendingApproval, "safe mode: no run of clean-001 has succeeded here yet")
        XCTAssertTrue(h.shell.requests.isEmpty)
    }

    func testAnIncidentWithoutAPlaybookIsReportedNotRun() async throws {
        let h = try await harness()
        await h.watcher.ingest(Sample(metric: "queue_depth", time: 1_800_000_000, value: 500))
        _ = await h.watcher.drain()
        XCTAssertTrue(h.events.names.contains("unhandled"), h.events.names.joined(separator: " "))
        XCTAssertTrue(h.shell.requests.isEmpty)
    }

    func testLiveSamplingReadsTheSeriesTheRulesNameAndScrapesPrometheusText() async throws {
        let server = try LoopbackHTTPServer { request in
            guard request.uri == "/metrics" else { return .init(status: 404, body: "no") }
            return .init(headers: [("Content-Type", "text/plain; version=0.0.4")], body: """
                # HELP disk_usage_percent Disk usage.
                # TYPE disk_usage_percent gauge
                disk_usage_percent{path="/var"} 91.5
                disk_usage_percent{path="/home"} 12
                not a sample line
                """)
        }
        defer { server.shutdown() }
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        let source = InMemoryMetricSource(["queue_depth": [.number(7)]])
        let sampler = LiveSampler(catalog: loaded.catalog, registry: MetricRegistry(sources: [(patterns: ["queue_depth"], source: source)]),
                                  scrapeURLs: [server.baseURL + "/metrics", server.baseURL + "/missing"])
        XCTAssertEqual(sampler.selectors.map(\.description), ["disk_usage_percent", "queue_depth"])
        let (samples, problems) = await sampler.round(at: 1_800_000_000)
        // The rule's bare `disk_usage_percent` is also read from the built-in host metrics (the
        // root filesystem, a real value); the scrape gives the labelled series.
        let host = try XCTUnwrap(samples.first { $0.seriesKey == "disk_usage_percent" })
        XCTAssertTrue((0...100).contains(host.value))
        XCTAssertEqual(Set(samples.filter { $0.seriesKey != "disk_usage_percent" }.map { "\($0.seriesKey)=\($0.value)@\(Int($0.time))" }), [
            "queue_depth=7.0@1800000000",
            "disk_usage_percent{path=\"/var\"}=91.5@1800000000",
            "disk_usage_percent{path=\"/home\"}=12.0@1800000000",
        ])
        XCTAssertEqual(problems.count, 1, "\(problems)")
        XCTAssertTrue(problems.first?.contains("/missing: ") ?? false, "\(problems)")
    }
}
