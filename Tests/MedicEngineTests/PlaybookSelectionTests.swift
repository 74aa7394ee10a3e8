import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

/// Choosing the playbook for an incident (§6.1 step 5, §6.2): the rule's candidates ranked by the
/// knowledge base, the immune memory's cure proposed first, what the memory learns from a watched
/// run, and the escalation of an incident nothing can take. Real journals, knowledge base and
/// memory document; recording executors stand in for the shell and the bus.
final class PlaybookSelectionTests: XCTestCase {
    private let library: [(String, String)] = [
        ("actions/a.yaml", """
            actions:
              clean:
                type: infrastructure
                risk_level: low
                parameters: {path: required}
                implementation: echo clean
              grow:
                type: infrastructure
                risk_level: low
                implementation: echo grow
            """),
        ("playbooks/clean.yaml", playbook("clean-001", step: "clean", action: "clean")),
        ("playbooks/grow.yaml", playbook("grow-001", step: "grow", action: "grow", extra: "safety: {blast_radius: single_instance}")),
        ("playbooks/remembered.yaml", playbook("archive-001", step: "archive", action: "clean")),
        ("rules/r.yaml", """
            rules:
              - name: disk-filling
                metric: disk_usage_percent
                detector: threshold
                params: {op: ">", value: 85}
                severity: SEV3
                playbook: [clean-001, grow-001]
                parameters_from_labels: {path: path}
                group_by: [host, path]
              - name: nobody-owns-it
                metric: queue_depth
                detector: threshold
                params: {op: ">", value: 100}
                severity: SEV3
            """),
    ]

    /// A playbook of one step taking the incident's `path`.
    private static func playbook(_ id: String, step: String, action: String, extra: String = "") -> String {
        """
        playbook_id: \(id)
        name: \(id)
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          path: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: \(step), action: \(action)}
        \(extra)
        metadata: {}
        """
    }

    private func catalog() throws -> Catalog {
        let loaded = CatalogLoader().load(documents: library.map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        return loaded.catalog
    }

    private func stateDirectory() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-select-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    private func incident(_ catalog: Catalog, rule: String = "disk-filling", host: String = "web-1", path: String = "/var") throws -> Incident {
        let rule = try XCTUnwrap(catalog.rules.first { $0.name == rule })
        return try XCTUnwrap(Incident.simulated(rule: rule, labels: ["host": host, "path": path], value: 95, at: 1_800_000_000))
    }

    private func record(_ playbook: String, _ outcome: IncidentRecord.RunOutcome, ended: String) -> IncidentRecord {
        IncidentRecord(
            incidentID: UUID().uuidString, timestamp: ended, endedAt: ended, runID: UUID().uuidString, mode: .automated, runOutcome: outcome,
            detection: .init(method: .anomalyDetection, detectionTime: ended), classification: .init(),
            remediation: .init(playbookID: playbook, playbookVersion: "1.0.0", executionTime: 10, stepsExecuted: [],
                               outcome: outcome == .succeeded ? .success : .failed),
            impact: .init(duration: 10),
            resolution: .init(resolutionMethod: outcome == .succeeded ? .autoRemediation : .manual,
                              timeToResolution: outcome == .succeeded ? 10 : nil, verificationPassed: outcome == .succeeded),
            metadata: .init(escalated: false))
    }

    func testTheRulesCandidatesAreRankedByTheirRecordInTheKnowledgeBase() throws {
        let catalog = try catalog()
        let state = stateDirectory()
        let kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        // clean-001 (listed first) failed 3 of 4 times; grow-001 succeeded every time.
        for outcome in [IncidentRecord.RunOutcome.failed, .failed, .failed, .succeeded] {
            try kb.append(encoding: record("clean-001", outcome, ended: "2027-01-10T00:00:00.000Z"), to: .incidentHistory)
        }
        for _ in 0..<4 { try kb.append(encoding: record("grow-001", .succeeded, ended: "2027-01-14T00:00:00.000Z"), to: .incidentHistory) }
        let selector = PlaybookSelector(catalog: catalog, stateDirectory: state)
        let (outcome, changes, problems) = selector.select(try incident(catalog), now: Date(timeIntervalSince1970: 1_800_000_000))
        XCTAssertEqual(problems, [])
        XCTAssertEqual(changes, [])
        guard case .chosen(let plan) = outcome else { return XCTFail("expected a plan, got \(outcome)") }
        XCTAssertEqual(plan.playbookID, "grow-001")
        let selection = try XCTUnwrap(plan.selection)
        XCTAssertEqual(selection.ranking.map(\.playbookID), ["grow-001", "clean-001"])
        XCTAssertEqual(selection.ranking[0].parts.first { $0.criterion == "success_rate" }?.score, 1)
        XCTAssertEqual(selection.ranking[1].parts.first { $0.criterion == "success_rate" }?.score, 0.25)
        XCTAssertNil(selection.remembered)
        XCTAssertEqual(plan.parameters.first { $0.name == "path" }?.value, "/var", "planned with the incident's parameters")
        // The text and JSON of `medic plan` show the parts.
        let text = PlanRenderer.text(plan)
        XCTAssertTrue(text.contains("1. grow-001"), text)
        XCTAssertTrue(text.contains("success_rate       0.4 x 0.250 = 0.100  1 of 4 run(s) succeeded"), text)
        XCTAssertTrue(PlanRenderer.json(plan).contains("\"blast_radius_match\""))
    }

    /// An alert's route names its candidates: a cure the memory remembers for the fault but the
    /// route does not name is not added (it was learned through another route).
    func testASelectorThatAddsNoRememberedPlaybookRanksOnlyTheIncidentsOwn() throws {
        let catalog = try catalog()
        let state = stateDirectory()
        let fault = try incident(catalog, host: "web-1")
        let kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        _ = try ImmuneMemoryDocument.update(in: kb, at: Date()) { memory in
            ((), memory.learn(RemediationOutcome(signature: FaultSignature(incident: fault),
                                                 actions: [RemediationAction(playbookID: "archive-001", action: "archive", priority: 1)],
                                                 succeeded: true, origin: .chaosExperiment, originID: "exp-1"), at: Date()))
        }
        var selector = PlaybookSelector(catalog: catalog, stateDirectory: state)
        selector.persistMemory = false
        guard case .chosen(let adding) = selector.select(fault, now: Date()).outcome else { return XCTFail("expected a plan") }
        XCTAssertEqual(adding.playbookID, "archive-001", "by default the remembered cure is added and comes first")
        selector.addsRememberedPlaybooks = false
        guard case .chosen(let plan) = selector.select(fault, now: Date()).outcome else { return XCTFail("expected a plan") }
        XCTAssertNotEqual(plan.playbookID, "archive-001")
        XCTAssertFalse(plan.selection?.ranking.contains { $0.playbookID == "archive-001" } ?? true, "\(String(describing: plan.selection))")
    }

    func testAnIncidentNoPlaybookCanTakeIsUnmatched() throws {
        let catalog = try catalog()
        let selector = PlaybookSelector(catalog: catalog, stateDirectory: stateDirectory())
        let (outcome, _, _) = selector.select(try incident(catalog, rule: "nobody-owns-it"), now: Date())
        guard case .unmatched(let selection, let reason) = outcome else { return XCTFail("expected no match, got \(outcome)") }
        XCTAssertEqual(selection.ranking, [])
        XCTAssertTrue(reason.contains("names no playbook"), reason)
    }

    // MARK: - Through medic watch's Watcher: learning, remembering, escalating

    private struct Harness {
        var watcher: Watcher
        var bus: RecordingExecutor
        var state: String
        var events: WatcherTests.EventLog
    }

    /// Whether the watched runs' shell steps fail (exit 3).
    final class Failing: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        var on: Bool {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    private func harness(_ catalog: Catalog, state: String, failing: Failing = Failing()) async throws -> Harness {
        let store = try RunStore(directory: state)
        let bus = RecordingExecutor()
        let clock = SystemClock()
        let shell = RecordingExecutor { _ in
            failing.on ? ExecutionResult(succeeded: false, exitStatus: 3, summary: "exit 3") : ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit 0")
        }
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: bus, http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        // Safe mode: each playbook has succeeded here once (a person ran it), so automated runs go.
        let quiet = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: RecordingExecutor(), http: RecordingExecutor()),
                                verifier: interpreter.verifier, clock: clock)
        for id in ["clean-001", "grow-001", "archive-001"] {
            let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: id)), given: ["path": "/seed"])
            let seeded = try await quiet.start(plan, in: store)
            XCTAssertEqual(seeded.outcome, .succeeded)
        }
        let log = WatcherTests.EventLog()
        let watcher = Watcher(engine: RuleEngine(catalog: catalog), catalog: catalog, interpreter: interpreter, stores: .files(store),
                              stateDirectory: store.directory, report: log.add)
        return Harness(watcher: watcher, bus: bus, state: state, events: log)
    }

    private func disk(_ value: Double, at time: Double, host: String) -> Sample {
        Sample(metric: "disk_usage_percent", labels: ["host": host, "path": "/var"], time: 1_800_000_000 + time, value: value)
    }

    private func memory(_ state: String) throws -> ImmuneMemory {
        let kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state), create: false)
        return try ImmuneMemoryDocument.load(from: kb, at: Date()).memory
    }

    private func runStarted(_ events: [WatchEvent]) -> [Plan] {
        events.compactMap { if case .runStarted(_, _, let plan) = $0 { plan } else { nil } }
    }

    func testAWatchedRunTeachesTheMemoryAndTheCureIsProposedFirstForTheSameAndASimilarFault() async throws {
        let catalog = try catalog()
        let state = stateDirectory()
        // The memory already knows a cure for disk-filling on web-1 from a chaos experiment:
        // archive-001, which the rule does not even list.
        let web1 = FaultSignature(incident: try incident(catalog, host: "web-1"))
        let kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state))
        _ = try ImmuneMemoryDocument.update(in: kb, at: Date()) { memory in
            ((), memory.learn(RemediationOutcome(signature: web1, actions: [RemediationAction(playbookID: "archive-001", action: "archive", priority: 1)],
                                                 succeeded: true, origin: .chaosExperiment, originID: "exp-1"), at: Date()))
        }
        let h = try await harness(catalog, state: state)

        // 1. web-1 fills: the remembered cure goes first (exact match), through the gates, and succeeds.
        await h.watcher.ingest(disk(95, at: 0, host: "web-1"))
        _ = await h.watcher.drain()
        var plans = runStarted(h.events.events)
        XCTAssertEqual(plans.map(\.playbookID), ["archive-001"])
        let first = try XCTUnwrap(plans.first?.selection)
        XCTAssertEqual(first.remembered?.match, "exact")
        XCTAssertEqual(first.ranking.first?.playbookID, "archive-001")
        XCTAssertTrue(first.ranking[0].remembered)
        XCTAssertEqual(Set(first.ranking.map(\.playbookID)), ["archive-001", "clean-001", "grow-001"])

        // The run taught the memory: one more observation, rate EMA'd from 1 with a success: 1.
        var entry = try XCTUnwrap(try memory(state).entry(id: web1.id))
        XCTAssertEqual(entry.observations, 2)
        XCTAssertEqual(entry.successRate, 1, accuracy: 1e-12)
        XCTAssertEqual(entry.lastOrigin, .run)
        // ... and published the change on the bus.
        let changes = h.bus.requests.filter { $0.topic == ImmuneMemoryChange.eventType }
        XCTAssertEqual(changes.count, 1, "\(h.bus.requests.map { $0.topic ?? "" })")
        XCTAssertEqual(changes.first?.parameters["signature_id"], web1.id)

        // 2. web-2 fills: a different signature (host=web-2), but 1 of its 2 components is shared
        // (path=/var) — 50%, under 60% — and the pattern prefix (the metric) is the same: a
        // fuzzy match, so the cure is proposed first again.
        await h.watcher.ingest(disk(95, at: 10, host: "web-2"))
        _ = await h.watcher.drain()
        plans = runStarted(h.events.events)
        XCTAssertEqual(plans.map(\.playbookID), ["archive-001", "archive-001"])
        XCTAssertEqual(plans.last?.selection?.remembered?.match, "pattern_prefix")

        // The web-2 run succeeded too: a new signature, a new entry (a success of an unknown fault).
        let web2 = FaultSignature(incident: try incident(catalog, host: "web-2"))
        entry = try XCTUnwrap(try memory(state).entry(id: web2.id))
        XCTAssertEqual(entry.observations, 1)
        XCTAssertEqual(entry.actions.map(\.playbookID), ["archive-001"])
        XCTAssertEqual(entry.actions.map(\.action), ["archive"], "the steps the run ran, in priority (step) order")
    }

    func testAFailedWatchedRunLowersTheRememberedRateAndAnUnknownFailureTeachesNothing() async throws {
        let catalog = try catalog()
        let state = stateDirectory()
        let failing = Failing()
        failing.on = true
        let h = try await harness(catalog, state: state, failing: failing)
        // A fault never seen, remediated without success: nothing to remember.
        await h.watcher.ingest(disk(95, at: 0, host: "db-1"))
        _ = await h.watcher.drain()
        let signature = FaultSignature(incident: try incident(catalog, host: "db-1"))
        XCTAssertEqual(try memory(state).count, 0, "a failure of an unknown fault teaches nothing")
        XCTAssertTrue(h.bus.requests.filter { $0.topic == ImmuneMemoryChange.eventType }.isEmpty)

        // It resolves, comes back, and this time the run succeeds: a new entry, rate 1.
        failing.on = false
        await h.watcher.ingest(disk(50, at: 10, host: "db-1"))
        await h.watcher.advance(to: 1_800_000_000 + 1_000)
        await h.watcher.ingest(disk(95, at: 1_010, host: "db-1"))
        _ = await h.watcher.drain()
        XCTAssertEqual(try memory(state).entry(id: signature.id)?.successRate, 1)

        // Once more, failing: the remembered cure is proposed, fails, and its rate falls by the
        // EMA: 0.3·0 + 0.7·1 = 0.7.
        failing.on = true
        await h.watcher.ingest(disk(50, at: 1_020, host: "db-1"))
        await h.watcher.advance(to: 1_800_000_000 + 2_000)
        await h.watcher.ingest(disk(95, at: 2_010, host: "db-1"))
        _ = await h.watcher.drain()
        XCTAssertEqual(runStarted(h.events.events).count, 3)
        XCTAssertEqual(runStarted(h.events.events).last?.selection?.remembered?.match, "exact")
        let entry = try XCTUnwrap(try memory(state).entry(id: signature.id))
        XCTAssertEqual(entry.successRate, 0.7, accuracy: 1e-12)
        XCTAssertEqual(entry.observations, 2)
    }

    func testAnIncidentNoPlaybookCanTakeIsEscalatedOnTheBus() async throws {
        let catalog = try catalog()
        let h = try await harness(catalog, state: stateDirectory())
        await h.watcher.ingest(Sample(metric: "queue_depth", labels: [:], time: 1_800_000_000, value: 500))
        _ = await h.watcher.drain()
        let unhandled = h.events.events.compactMap { if case .unhandled(_, let reason, let escalated) = $0 { (reason, escalated) } else { nil } }
        XCTAssertEqual(unhandled.count, 1)
        XCTAssertEqual(unhandled.first?.1, true)
        let escalation = try XCTUnwrap(h.bus.requests.first { $0.topic == "dev.medic.incident.escalated" })
        XCTAssertEqual(escalation.parameters["rule"], "nobody-owns-it")
        XCTAssertTrue(escalation.parameters["reason"]?.contains("names no playbook") == true)
        XCTAssertTrue(runStarted(h.events.events).isEmpty, "nothing ran")
    }

    /// A run in a chaos experiment: recorded with mode chaos, and the fault it names learns its
    /// cure (origin chaos_experiment, the experiment's id) — as a watched run's would.
    func testAChaosRunIsRecordedAsSuchAndTeachesTheMemoryItsFault() async throws {
        let catalog = try catalog()
        let state = stateDirectory()
        let store = try RunStore(directory: state)
        let bus = RecordingExecutor()
        let clock = SystemClock()
        let interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: bus, http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let fault = FaultSignature(faultType: "disk-fill", components: ["web-1"], pattern: "disk-fill:var:90")
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "clean-001")), given: ["path": "/var"])
        let report = try await interpreter.start(plan, in: store, chaos: ChaosRun(experimentID: "exp-7", fault: IncidentFault(fault)))
        XCTAssertEqual(report.outcome, .succeeded)
        let kb = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: state), create: false)
        let records = try kb.read(IncidentRecord.self, from: .incidentHistory)
        XCTAssertEqual(records.records.map(\.mode), [.chaos])
        let entry = try XCTUnwrap(try memory(state).entry(id: fault.id))
        XCTAssertEqual(entry.origin, .chaosExperiment)
        XCTAssertEqual(entry.lastOriginID, "exp-7")
        XCTAssertEqual(entry.actions.map(\.playbookID), ["clean-001"])
        XCTAssertEqual(bus.requests.filter { $0.topic == ImmuneMemoryChange.eventType }.count, 1)
        // Without a fault, a chaos run is recorded but teaches nothing.
        _ = try await interpreter.start(plan, in: store, chaos: ChaosRun(experimentID: "exp-8"))
        XCTAssertEqual(try memory(state).count, 1)
    }
}
