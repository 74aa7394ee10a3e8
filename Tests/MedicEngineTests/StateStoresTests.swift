import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicModel
import XCTest

/// The engine reaches its state only through the `StateStores` it is given: a run, a gate's
/// refusal, an approval, a resume, carried out with stores that wrap the file stores and note
/// each call, leave no record, lock or audit line that did not pass through the wrappers.
final class StateStoresTests: XCTestCase {
    func testARunARefusalAnApprovalAndAResumeReachTheStateOnlyThroughTheStoresGiven() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("medic-stores-\(UUID().uuidString)")
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        for folder in ["actions", "playbooks"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try CleanLibrary.action.write(to: root.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        try CleanLibrary.playbook.write(to: root.appendingPathComponent("playbooks/p.yaml"), atomically: true, encoding: .utf8)
        let state = root.appendingPathComponent("state").path
        let clock = ManualClock()
        let calls = Calls()
        let files = try RunStore(directory: state, clock: clock)
        let audit = RecordingAudit(FileAuditLog(stateDirectory: state), calls)
        let stores = StateStores(runs: RecordingRuns(files, calls), locks: RecordingLocks(TargetLocks(stateDirectory: state, clock: clock), calls),
                                 flags: RecordingFlags(FileFlags(stateDirectory: state, audit: audit), calls), audit: audit,
                                 knowledge: StateStores.knowledge(in: state), outbox: StateStores.outbox(at: StateStores.defaultOutboxPath(in: state)))

        let catalog = try CatalogStage().run(root: root.path)
        let ungated = try PlanStage(catalog: catalog).run(PlanRequest(playbook: try XCTUnwrap(catalog.playbook(id: "clean-001")),
                                                                      parameters: ["path": "/var/log"]))
        let gates = {
            var stage = GateStage(catalog: catalog, stateDirectory: state, evaluator: nil)
            stage.stores = stores
            return stage
        }()
        let shell = RecordingExecutor()
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let stage = ExecutionStage(interpreter: interpreter, stores: stores)

        // A refusal: paused, an automated run is refused by the kill switch the stores hold.
        try await stores.flags.turnOn(.killSwitch, by: "ops", reason: "review", now: clock.now)
        let refusedPlan = await gates.run(ungated, GateRequest(mode: .automated), now: clock.now)
        XCTAssertEqual(GatePipeline.blocking(refusedPlan.gates)?.gate, .killSwitch)
        let refused = try await stage.run(refusedPlan, RunRequest(mode: .automated, runID: "run-refused", seed: 1))
        XCTAssertEqual(refused.outcome, .refused)
        try await stores.flags.turnOff(.killSwitch, by: "ops", reason: nil, now: clock.now)

        // An approval: the run waits, is approved, gated again through the stores, and runs.
        var waiting = await gates.run(ungated, GateRequest(mode: .manual), now: clock.now)
        XCTAssertNil(GatePipeline.blocking(waiting.gates), "\(waiting.gates)")
        waiting.gates.append(GateVerdict(gate: .approval, decision: .needsApproval, reason: "needs a person", needs: ["approval"]))
        let pending = try await stage.run(waiting, RunRequest(mode: .manual, runID: "run-approved", seed: 2))
        XCTAssertEqual(pending.status, .pendingApproval)
        let approved = try await stage.approve("run-approved", by: "alice", regate: { plan, mode, approvals in
            await gates.run(plan, GateRequest(mode: mode, approvedBy: approvals.approvedBy), now: clock.now).gates
        })
        XCTAssertEqual(approved.outcome, .succeeded, approved.message ?? "")

        // A resume: a run whose process "died" right after its gates were journaled.
        let plain = try await stage.run(waiting.droppingApproval, RunRequest(mode: .manual, runID: "run-resumed", seed: 3))
        XCTAssertEqual(plain.outcome, .succeeded)
        let path = files.journalPath("run-resumed")
        let lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
        let cut = try XCTUnwrap(lines.firstIndex { $0.contains("\"gates_evaluated\"") })
        try (lines[...cut].joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let appendedBefore = calls.appended.filter { $0.run == "run-resumed" }.count
        let resumed = try await stage.resume("run-resumed")
        XCTAssertEqual(resumed.outcome, .succeeded, resumed.message ?? "")
        XCTAssertEqual(shell.requests.map(\.action), ["clean", "clean", "clean"])

        // Every record of every journal went through the wrapper's journal (the resumed run's
        // first records were written before the "crash", by the run that the wrapper also made).
        for id in ["run-refused", "run-approved", "run-resumed"] {
            let onDisk = try await files.read(runID: id).records.map(\.seq)
            XCTAssertFalse(onDisk.isEmpty)
            let appended = calls.appended.filter { $0.run == id }.map(\.seq)
            XCTAssertEqual(Set(appended).isSuperset(of: onDisk), true, "\(id): on disk \(onDisk), through the wrapper \(appended)")
        }
        let resumedRecords = try await files.read(runID: "run-resumed").records
        XCTAssertEqual(calls.appended.filter { $0.run == "run-resumed" }.count - appendedBefore,
                       resumedRecords.count - (cut + 1), "the resume appended through the wrapper")
        // Every audit line was written through the audit log given: the pause, its end, the approval.
        let auditLines = try String(contentsOfFile: state + "/audit.jsonl", encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(calls.audited, ["paused", "resumed", "approved"])
        XCTAssertEqual(auditLines.count, calls.audited.count)
        let names = calls.names
        for expected in ["runs.create", "runs.reopen", "runs.resolve", "runs.refresh", "locks.acquire", "flags.setting(kill_switch)",
                         "flags.turnOn(kill_switch)", "flags.turnOff(kill_switch)", "flags.breakerResets"] {
            XCTAssertTrue(names.contains(expected), "\(expected) not called; called: \(Set(names).sorted())")
        }
        XCTAssertEqual(names.filter { $0 == "runs.create" }.count, 3)
        XCTAssertEqual(names.filter { $0 == "locks.acquire" }.count, 3, "the approved run, the first run of run-resumed, its resume")
    }
}

private extension Plan {
    /// The plan without the approval it was made to wait for.
    var droppingApproval: Plan {
        var plan = self
        plan.gates.removeAll { $0.decision == .needsApproval }
        return plan
    }
}

/// What the wrappers saw, in order.
private final class Calls: @unchecked Sendable {
    private let lock = NSLock()
    private var _names: [String] = []
    private var _appended: [(run: String, seq: Int)] = []
    private var _audited: [String] = []

    func note(_ name: String) { lock.withLock { _names.append(name) } }
    func appended(_ records: [JournalRecord], run: String) { lock.withLock { _appended += records.map { (run, $0.seq) } } }
    func audited(_ event: String) { lock.withLock { _audited.append(event) } }
    var names: [String] { lock.withLock { _names } }
    var appended: [(run: String, seq: Int)] { lock.withLock { _appended } }
    var audited: [String] { lock.withLock { _audited } }
}

/// The file store's runs, each call noted.
private struct RecordingRuns: RunStoring {
    let base: RunStore
    let calls: Calls
    init(_ base: RunStore, _ calls: Calls) { (self.base, self.calls) = (base, calls) }

    var clock: any EngineClock { base.clock }
    func create(runID: String) throws -> (RecordingJournal, RunLock) {
        calls.note("runs.create")
        let (journal, lock) = try base.create(runID: runID)
        return (RecordingJournal(journal, calls), lock)
    }
    func reopen(runID: String) throws -> (RecordingJournal, RunLock, JournalContents)? {
        calls.note("runs.reopen")
        return try base.reopen(runID: runID).map { (RecordingJournal($0.0, calls), $0.1, $0.2) }
    }
    func resolve(_ idOrPrefix: String) throws -> String { calls.note("runs.resolve"); return try base.resolve(idOrPrefix) }
    func journalPath(_ id: String) -> String { base.journalPath(id) }
    func read(runID: String, repair: Bool) throws -> JournalContents { calls.note("runs.read"); return try base.read(runID: runID, repair: repair) }
    func inspect(_ id: String) throws -> (summary: RunSummary?, contents: JournalContents, status: RunStatus) {
        calls.note("runs.inspect")
        return try base.inspect(id)
    }
    func list(reconcilingIncidents: Bool) -> (runs: [RunSummary], problems: [String]) {
        calls.note("runs.list")
        return base.list(reconcilingIncidents: reconcilingIncidents)
    }
    func stopAppending() { base.stopAppending() }
    var isStopping: Bool { base.isStopping }

    func refresh() { calls.note("runs.refresh"); base.refresh() }
    func runs(startedSince since: Date) -> [IndexedRun] { calls.note("runs.startedSince"); return base.runs(startedSince: since) }
    func unfinishedRuns() -> [IndexedRun] { calls.note("runs.unfinished"); return base.unfinishedRuns() }
    func damagedRuns() -> [IndexedRun] { calls.note("runs.damaged"); return base.damagedRuns() }
    func hasSucceeded(_ playbookID: String) -> Bool { calls.note("runs.hasSucceeded"); return base.hasSucceeded(playbookID) }
    func finishedRuns(of playbookID: String, from: Int) -> (runs: [IndexedRun], count: Int, generation: Int) {
        calls.note("runs.finished")
        return base.finishedRuns(of: playbookID, from: from)
    }
    var breakerReplays: BreakerReplays? { base.breakerReplays }
}

/// A file journal whose appends are noted with the sequence numbers they were given.
private final class RecordingJournal: RunJournaling, @unchecked Sendable {
    let base: RunJournal
    let calls: Calls
    init(_ base: RunJournal, _ calls: Calls) { (self.base, self.calls) = (base, calls) }

    var runID: String { base.runID }
    var path: String { base.path }
    func observe(_ observer: @escaping @Sendable (JournalRecord) -> Void) { calls.note("journal.observe"); base.observe(observer) }
    func append(_ records: [JournalRecord], now: Date?, durable: Bool) throws -> [JournalRecord] {
        let written = try base.append(records, now: now, durable: durable)
        calls.appended(written, run: runID)
        return written
    }
    func appendDurably(_ records: [JournalRecord], now: Date?) async throws -> [JournalRecord] {
        let written = try await base.appendDurably(records, now: now)
        calls.appended(written, run: runID)
        return written
    }
}

private struct RecordingLocks: TargetLocking {
    let base: TargetLocks
    let calls: Calls
    init(_ base: TargetLocks, _ calls: Calls) { (self.base, self.calls) = (base, calls) }

    func holders(of names: [String]) -> [(name: String, holder: TargetLocks.Holder?)] {
        calls.note("locks.holders")
        return base.holders(of: names)
    }
    func acquire(_ names: [String], run: String, wait: Double, now: Date) async throws -> TargetLease {
        calls.note("locks.acquire")
        return try await base.acquire(names, run: run, wait: wait, now: now)
    }
}

private struct RecordingFlags: OperatorFlags {
    let base: FileFlags
    let calls: Calls
    init(_ base: FileFlags, _ calls: Calls) { (self.base, self.calls) = (base, calls) }

    func setting(_ flag: OperatorFlag) async -> OperatorSwitch.Setting? { calls.note("flags.setting(\(flag.rawValue))"); return base.setting(flag) }
    func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws {
        calls.note("flags.turnOn(\(flag.rawValue))")
        try await base.turnOn(flag, by: by, reason: reason, now: now)
    }
    func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws -> Bool {
        calls.note("flags.turnOff(\(flag.rawValue))")
        return try await base.turnOff(flag, by: by, reason: reason, now: now)
    }
    func breakerResets() async -> [String: RemediationBreaker.Reset] { calls.note("flags.breakerResets"); return base.breakerResets() }
    func resetBreaker(_ playbookID: String, by: String, reason: String?, now: Date) async throws {
        calls.note("flags.resetBreaker")
        try await base.resetBreaker(playbookID, by: by, reason: reason, now: now)
    }
}

private struct RecordingAudit: AuditLog {
    let base: FileAuditLog
    let calls: Calls
    init(_ base: FileAuditLog, _ calls: Calls) { (self.base, self.calls) = (base, calls) }

    func record(_ fields: [String: String]) throws {
        calls.audited(fields["event"] ?? "?")
        try base.record(fields)
    }
}
