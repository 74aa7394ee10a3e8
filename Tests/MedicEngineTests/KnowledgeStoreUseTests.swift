import Foundation
import MedicDetect
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

/// The engine reaches the knowledge base and the immune memory only through the stores it is
/// given (`Interpreter.knowledge`, chosen once as `StateStores.knowledge`): a run learns into
/// them and a watch ranks and consults through them. The stores given here are the file stores
/// of ANOTHER directory behind recorders, so a part of the engine that opened the state
/// directory's knowledge base itself would leave the recorders silent and that directory
/// written.
final class KnowledgeStoreUseTests: XCTestCase {
    private func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-kstores-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    private func catalog() throws -> Catalog {
        let loaded = CatalogLoader().load(documents: CleanLibrary.files().map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        return loaded.catalog
    }

    private func interpreter(bus: RecordingExecutor = RecordingExecutor()) -> Interpreter {
        let clock = SystemClock()
        return Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: bus, http: RecordingExecutor()),
                           verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                           clock: clock)
    }

    func testARunLearnsIntoTheKnowledgeStoresItsInterpreterIsGiven() async throws {
        let state = scratch(), elsewhere = scratch() + "/kb"
        var stores = try StateStores.files(in: state)
        let (log, memoryLog) = (CallLog(), CallLog())
        stores.knowledge = KnowledgeStores.files(in: elsewhere).recorded(into: log, memoryLog: memoryLog)
        var interpreter = interpreter()
        interpreter.knowledge = stores.knowledge

        let catalog = try catalog()
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "clean-001")), given: ["path": "/var"])
        let fault = FaultSignature(faultType: "disk-fill", components: ["web-1"], pattern: "disk-fill:var")
        let report = try await interpreter.start(plan, in: stores.runs, chaos: ChaosRun(experimentID: "exp-1", fault: IncidentFault(fault)))
        XCTAssertEqual(report.outcome, .succeeded)

        XCTAssertEqual(log.calls, ["append incident-history.jsonl"])
        XCTAssertEqual(memoryLog.calls, ["update"])
        let kb = try KnowledgeBase(directory: elsewhere, create: false)
        XCTAssertEqual(try kb.read(IncidentRecord.self, from: .incidentHistory).records.map(\.runID), [report.runID])
        XCTAssertEqual(try ImmuneMemoryDocument.load(from: kb, at: Date()).memory.entry(id: fault.id)?.lastOriginID, "exp-1")
        XCTAssertFalse(FileManager.default.fileExists(atPath: KnowledgeBase.defaultDirectory(inState: state)),
                       "nothing was learned into the state directory's own knowledge base")
    }

    /// A finished run's targets are free while the knowledge base learns of it: an alert for the
    /// same fault in that moment gets a run of its own that can take them (it was refused, its
    /// fault left unremediated).
    func testARunGivesItsTargetsBackOnceItsOutcomeIsOnRecordBeforeItIsLearned() async throws {
        let state = scratch(), elsewhere = scratch() + "/kb"
        var stores = try StateStores.files(in: state)
        let locks = TargetLocks(stateDirectory: state)
        let catalog = try catalog()
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "clean-001")), given: ["path": "/var"])
        let names = TargetLocks.names(for: plan)
        let heldWhileLearning = CallLog()
        let files = KnowledgeStores.files(in: elsewhere)
        stores.knowledge = KnowledgeStores(records: ObservingKnowledgeStore(base: files.records) {
            for (name, holder) in locks.holders(of: names) { heldWhileLearning.add("\(name) held by \(holder?.run ?? "nobody")") }
        }, immuneMemory: files.immuneMemory)
        var interpreter = interpreter()
        interpreter.knowledge = stores.knowledge

        let report = try await interpreter.start(plan, in: stores.runs, locks: locks)
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(heldWhileLearning.calls, names.map { "\($0) held by nobody" }, "the run's targets while it was learned")
    }

    func testAWatchRanksConsultsAndLearnsThroughTheKnowledgeStoresItsInterpreterIsGiven() async throws {
        let catalog = try catalog()
        let state = scratch(), elsewhere = scratch() + "/kb"
        let store = try RunStore(directory: state)
        // Safe mode lets an automated run go once its playbook has succeeded here: a person's
        // run, which learns nothing (so the state directory keeps no knowledge base at all).
        var quiet = interpreter()
        quiet.recordsIncidents = false
        let seed = try await quiet.start(try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "clean-001")),
                                                                           given: ["path": "/seed"]), in: store)
        XCTAssertEqual(seed.outcome, .succeeded)

        // Only the other knowledge base remembers a cure for the fault the watch will see.
        let rule = try XCTUnwrap(catalog.rules.first { $0.name == "disk-filling" })
        let incident = try XCTUnwrap(Incident.simulated(rule: rule, labels: ["path": "/var"], value: 95, at: 1_800_000_000))
        let signature = FaultSignature(incident: incident)
        let knowledge = KnowledgeStores.files(in: elsewhere)
        _ = try knowledge.immuneMemory.update(capacity: ImmuneMemory.defaultCapacity, at: Date()) { memory in
            ((), memory.learn(RemediationOutcome(signature: signature, actions: [RemediationAction(playbookID: "clean-001", action: "clean", priority: 1)],
                                                 succeeded: true, origin: .chaosExperiment, originID: "exp-1"), at: Date()))
        }
        let (log, memoryLog) = (CallLog(), CallLog())
        var interpreter = interpreter()
        interpreter.knowledge = knowledge.recorded(into: log, memoryLog: memoryLog)
        let events = WatcherTests.EventLog()
        let watcher = Watcher(engine: RuleEngine(catalog: catalog), catalog: catalog, interpreter: interpreter,
                              stores: .files(store), stateDirectory: store.directory, report: events.add)
        for (t, v) in [(0.0, 50.0), (10, 90), (40, 92), (70, 95), (80, 96)] {
            await watcher.ingest(Sample(metric: "disk_usage_percent", labels: ["path": "/var"], time: 1_800_000_000 + t, value: v))
        }
        let outcomes = await watcher.drain()
        XCTAssertEqual(Array(outcomes.values), [.succeeded])

        let plans = events.events.compactMap { if case .runStarted(_, _, let plan) = $0 { plan } else { nil } }
        XCTAssertEqual(plans.first?.selection?.remembered?.signatureID, signature.id, "the memory given was consulted")
        XCTAssertTrue(log.calls.contains("follow incident-history.jsonl"), "\(log.calls)")
        XCTAssertEqual(log.calls.last, "append incident-history.jsonl")
        XCTAssertEqual(memoryLog.calls.first, "read")
        XCTAssertEqual(memoryLog.calls.filter { $0 == "update" }.count, 2, "consulted (decay) and taught: \(memoryLog.calls)")
        let kb = try KnowledgeBase(directory: elsewhere, create: false)
        XCTAssertEqual(try kb.read(IncidentRecord.self, from: .incidentHistory).records.map(\.runID), Array(outcomes.keys))
        XCTAssertEqual(try ImmuneMemoryDocument.load(from: kb, at: Date()).memory.entry(id: signature.id)?.observations, 2)
        XCTAssertFalse(FileManager.default.fileExists(atPath: KnowledgeBase.defaultDirectory(inState: state)))
    }

    /// The history a watch ranks by is followed through the store: what was appended since is
    /// read, and a history replaced by a shorter one (a prune) is read again from its start.
    func testThePlaybookHistoryFollowsItsStore() throws {
        let directory = scratch()
        let store = FileKnowledgeStore(directory: directory)
        let log = CallLog()
        let history = PlaybookHistory(store: RecordingKnowledgeStore(base: store, log: log))
        XCTAssertEqual(history.refresh(), 0)
        XCTAssertNil(history.record(for: "clean-001"), "no knowledge base yet: no record, and none created")
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory))

        let record = { (outcome: IncidentRecord.RunOutcome) in
            IncidentRecord(incidentID: UUID().uuidString, timestamp: "2027-01-10T00:00:00.000Z", endedAt: "2027-01-10T00:00:10.000Z",
                           runID: UUID().uuidString, mode: .automated, runOutcome: outcome,
                           detection: .init(method: .anomalyDetection, detectionTime: "2027-01-10T00:00:00.000Z"), classification: .init(),
                           remediation: .init(playbookID: "clean-001", playbookVersion: "1.0.0", executionTime: 10, stepsExecuted: [],
                                              outcome: outcome == .succeeded ? .success : .failed),
                           impact: .init(duration: 10),
                           resolution: .init(resolutionMethod: .manual, timeToResolution: nil, verificationPassed: outcome == .succeeded), metadata: .init(escalated: false))
        }
        try store.appendBatch(encoding: [record(.succeeded), record(.failed)], to: .incidentHistory)
        history.refresh()
        XCTAssertEqual(history.record(for: "clean-001")?.runs, 2)
        try store.append(encoding: record(.succeeded), to: .incidentHistory)
        try store.append(Array(#"{"not":"a record"}"#.utf8), to: .incidentHistory, durable: true)
        XCTAssertEqual(history.refresh(), 1)
        XCTAssertEqual(history.record(for: "clean-001")?.runs, 3)
        XCTAssertEqual(history.record(for: "clean-001")?.successes, 2)

        // Replaced by a shorter history: read again from its start, the old counts forgotten.
        let path = directory + "/" + KnowledgeFile.incidentHistory.name
        try FileManager.default.removeItem(atPath: path)
        try store.append(encoding: record(.failed), to: .incidentHistory)
        XCTAssertEqual(history.refresh(), 0)
        XCTAssertEqual(history.record(for: "clean-001")?.runs, 1)
        XCTAssertEqual(history.record(for: "clean-001")?.successes, 0)
        XCTAssertEqual(Set(log.calls), ["follow incident-history.jsonl"])
    }
}
