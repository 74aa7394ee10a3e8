import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

/// The learning stage on its own (a finished run's journal in, the incident record, the memory's
/// lesson and its published changes out) and as the last act of a real run.
final class LearningStageTests: XCTestCase {
    private func scratch() -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-learn-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir.path
    }

    private let fault = FaultSignature(faultType: "disk-fill", components: ["web-1"], pattern: "disk-fill:var")

    /// A finished chaos run of clean-001 whose lesson is `fault`, run WITHOUT learning: its
    /// journal's records, and the store it is in.
    private func finishedRun(failing: Bool = false) async throws -> (FinishedRun, RunStore) {
        let loaded = CatalogLoader().load(documents: CleanLibrary.files().map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let store = try RunStore(directory: scratch())
        let clock = ManualClock()
        let shell = RecordingExecutor { _ in
            ExecutionResult(succeeded: !failing, exitStatus: failing ? 3 : 0, summary: failing ? "exit 3" : "exit 0")
        }
        var interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        interpreter.recordsIncidents = false
        let plan = try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbook(id: "clean-001")), given: ["path": "/var"])
        let report = try await interpreter.start(plan, in: store, chaos: ChaosRun(experimentID: "exp-3", fault: IncidentFault(fault)))
        XCTAssertEqual(report.outcome, failing ? .failed : .succeeded)
        XCTAssertFalse(FileManager.default.fileExists(atPath: KnowledgeBase.defaultDirectory(inState: store.directory)), "nothing learned yet")
        return (FinishedRun(records: try await store.read(runID: report.runID).records, journal: report.journal), store)
    }

    func testAFinishedRunIsRecordedAndTeachesTheMemoryAndEachChangeIsPublished() async throws {
        let (run, _) = try await finishedRun()
        let directory = scratch()
        let bus = RecordingExecutor()
        let clock = ManualClock(start: Date(timeIntervalSince1970: 1_900_000_000))
        let learned = await LearningStage(knowledge: .files(in: directory), bus: bus, clock: clock).learn(run)

        XCTAssertEqual(learned.warnings, [])
        let incident = try XCTUnwrap(learned.incident)
        XCTAssertEqual(incident.runID, run.records.first?.run)
        XCTAssertEqual(incident.mode, .chaos)
        XCTAssertEqual(incident.runOutcome, .succeeded)
        let kb = try KnowledgeBase(directory: directory, create: false)
        XCTAssertEqual(try kb.read(IncidentRecord.self, from: .incidentHistory).records, [incident], "the record returned is the one written")
        XCTAssertTrue(FileManager.default.fileExists(atPath: String(run.journal.dropLast(".jsonl".count)) + ".recorded"), "the run is marked recorded")

        XCTAssertEqual(learned.remediation, run.remediation)
        XCTAssertEqual(learned.remediation?.signature, fault)
        XCTAssertEqual(learned.remediation?.actions.map(\.action), ["clean"])
        let entry = try XCTUnwrap(try ImmuneMemoryDocument.load(from: kb, at: clock.now).memory.entry(id: fault.id))
        XCTAssertEqual(entry.lastOriginID, "exp-3")
        XCTAssertEqual(entry.lastApplied, clock.now, "learned at the stage's clock")
        XCTAssertEqual(learned.memoryChanges.map(\.signatureID), [fault.id])
        XCTAssertEqual(bus.requests.map(\.topic), [ImmuneMemoryChange.eventType])
        XCTAssertEqual(bus.requests.first?.parameters["signature_id"], fault.id)
    }

    func testWhatCannotBeWrittenIsAWarningAndTheRestIsStillDone() async throws {
        let (run, _) = try await finishedRun()
        // A file where the knowledge base directory should be: neither record nor memory can be written.
        let blocked = scratch()
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: blocked))
        let learned = await LearningStage(knowledge: .files(in: blocked), bus: RecordingExecutor(), clock: ManualClock()).learn(run)
        XCTAssertNil(learned.incident)
        XCTAssertNil(learned.remediation)
        XCTAssertEqual(learned.warnings.count, 2, "\(learned.warnings)")
        XCTAssertTrue(learned.warnings.first?.contains("was not written to \(blocked)") == true, "\(learned.warnings)")
        XCTAssertTrue(learned.warnings.last?.contains("did not learn") == true, "\(learned.warnings)")

        // A bus that refuses: the memory learned, the change is not published, and says so.
        let directory = scratch()
        let refusing = RecordingExecutor { _ in ExecutionResult(succeeded: false, summary: "the relay is down") }
        let published = await LearningStage(knowledge: .files(in: directory), bus: refusing, clock: ManualClock()).learn(run)
        XCTAssertNotNil(published.incident)
        XCTAssertEqual(published.memoryChanges.count, 1)
        XCTAssertEqual(published.warnings.count, 1)
        XCTAssertTrue(published.warnings.first?.contains("was not published: the relay is down") == true, "\(published.warnings)")
    }

    func testARunThatTeachesNothingIsStillRecorded() async throws {
        // A failure of a fault the memory never saw teaches it nothing.
        let (run, _) = try await finishedRun(failing: true)
        let directory = scratch()
        let bus = RecordingExecutor()
        let learned = await LearningStage(knowledge: .files(in: directory), bus: bus, clock: ManualClock()).learn(run)
        XCTAssertEqual(learned.incident?.runOutcome, .failed)
        XCTAssertEqual(learned.memoryChanges, [])
        XCTAssertEqual(bus.requests.count, 0)
        XCTAssertEqual(learned.remediation?.succeeded, false, "offered to the memory")
        XCTAssertEqual(try FileImmuneMemory(directory: directory).read(capacity: 10, at: Date()).count, 0)
    }

    /// A real run ends with the stage: what it learns is what the stage learns from the run's
    /// journal, into the interpreter's knowledge stores, and its warnings reach the interpreter.
    func testARealRunEndsWithTheLearningStage() async throws {
        let loaded = CatalogLoader().load(documents: CleanLibrary.files().map { ($0.0, Array($0.1.utf8)) })
        let store = try RunStore(directory: scratch())
        let (given, elsewhere) = (scratch(), scratch())
        let bus = RecordingExecutor()
        let clock = ManualClock()
        let warnings = Warnings()
        var interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: bus, http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      environment: EngineEnvironment(clock: clock, warn: warnings.add))
        interpreter.knowledge = .files(in: given)
        let plan = try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbook(id: "clean-001")), given: ["path": "/var"])
        let report = try await interpreter.start(plan, in: store, chaos: ChaosRun(experimentID: "exp-4", fault: IncidentFault(fault)))
        XCTAssertEqual(report.outcome, .succeeded)
        XCTAssertEqual(warnings.messages, [])

        // The stage on the same journal, into another knowledge base, writes the same record.
        let run = FinishedRun(records: try await store.read(runID: report.runID).records, journal: report.journal)
        let again = await LearningStage(knowledge: .files(in: elsewhere), bus: RecordingExecutor(), clock: clock).learn(run)
        let written = try KnowledgeBase(directory: given, create: false).read(IncidentRecord.self, from: .incidentHistory).records
        XCTAssertEqual(written, [try XCTUnwrap(again.incident)])
        XCTAssertEqual(bus.requests.filter { $0.topic == ImmuneMemoryChange.eventType }.map { $0.parameters["signature_id"] }, [fault.id])

        // Its warnings are the interpreter's: a knowledge base that cannot be written.
        let blocked = scratch()
        try Data("x".utf8).write(to: URL(fileURLWithPath: blocked))
        interpreter.knowledge = .files(in: blocked)
        _ = try await interpreter.start(plan, in: store)
        XCTAssertEqual(warnings.messages.count, 1, "\(warnings.messages)")
        XCTAssertTrue(warnings.messages.first?.contains("was not written to \(blocked)") == true, "\(warnings.messages)")
    }
}

private final class Warnings: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ message: String) { lock.withLock { list.append(message) } }
    var messages: [String] { lock.withLock { list } }
}
