import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// The index of runs (`runs/.index`) against the journals it summarises: deleted, cut at every
/// byte, with changed bytes, it is rebuilt and answers as the journals do; runs another process
/// (the `medic` binary) starts, finishes or leaves interrupted are seen by a store kept open;
/// the breaker continued from its kept replay says what a replay of the whole history says.
final class RunIndexTests: XCTestCase {
    static let actions = """
        actions:
          plain:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo ran >> "${log}"
          linger:
            type: infrastructure
            risk_level: low
            parameters: {log: required}
            implementation: echo "$$" > "${log}"; sleep 600
        """

    static let playbooks = [
        """
        playbook_id: plain-001
        name: Plain
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        targets: [web-1]
        parameters:
          log: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: a, action: plain}
        metadata: {}
        """,
        """
        playbook_id: linger-001
        name: Lingers
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        parameters:
          log: {type: string, required: true}
        remediation_steps:
          - {step: 1, name: linger, action: linger}
        metadata: {}
        """,
    ]

    private var dir: URL!
    private var catalog: Catalog!
    private let clock = ManualClock()
    private var made = 0

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-index-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        try Self.actions.write(to: dir.appendingPathComponent("actions/a.yaml"), atomically: true, encoding: .utf8)
        for (n, playbook) in Self.playbooks.enumerated() {
            try playbook.write(to: dir.appendingPathComponent("playbooks/p\(n).yaml"), atomically: true, encoding: .utf8)
        }
        let loaded = CatalogLoader().load(documents: [("actions/a.yaml", Array(Self.actions.utf8))]
            + Self.playbooks.enumerated().map { ("playbooks/p\($0.offset).yaml", Array($0.element.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        catalog = loaded.catalog
    }

    override func tearDown() {
        try? FileManager.default.removeItem(at: dir)
    }

    private var state: String { dir.appendingPathComponent("state").path }
    private var indexPath: String { state + "/runs/.index" }

    /// Runs of plain-001 a minute apart, succeeding or failing as `pattern` says (S or F), and
    /// one refused by a gate.
    @discardableResult
    private func runs(_ pattern: String, in store: RunStore) async throws -> [String] {
        var ids: [String] = []
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "plain-001")), given: ["log": dir.path + "/log"])
        for mark in pattern {
            clock.advance(seconds: 60)
            let succeed = mark == "S"
            let shell = RecordingExecutor { _ in ExecutionResult(succeeded: succeed, exitStatus: succeed ? 0 : 3, summary: "exit") }
            let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                          verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                          clock: clock)
            var planned = plan
            if mark == "R" { planned.gates = [.refuse(.killSwitch, "test")] }
            made += 1
            ids.append(try await interpreter.start(planned, in: store, runID: "run-\(String(made).leftPadded(3))", seed: 1).runID)
        }
        return ids
    }

    /// What the journals say, each read on its own (no index involved), oldest first.
    private func fromJournals(_ store: RunStore) throws -> [RunSummary] {
        try store.runIDs().compactMap { try store.inspect($0).summary }
            .sorted { ($0.startedAt, $0.id) < ($1.startedAt, $1.id) }  // one spelling, fixed width: in time order
    }

    /// The answers of a store opened afresh, as a new process would open it.
    private func answers(file: StaticString = #filePath, line: UInt = #line) throws -> (list: [RunSummary], since: [String], succeeded: Bool) {
        let store = try RunStore(directory: state)
        store.refresh()
        let since = store.runs(startedSince: .distantPast).map(\.summary.id)
        let succeeded = store.hasSucceeded("plain-001")
        let listed = store.list()
        XCTAssertEqual(listed.problems, [], file: file, line: line)
        return (listed.runs, since, succeeded)
    }

    /// A run may be called `index` (`--run-id`): its journal and lock are its own, never the
    /// index's, and the index still lists it beside the others.
    func testARunNamedIndexIsARunLikeAnyOther() async throws {
        let store = try RunStore(directory: state, clock: clock)
        try await runs("S", in: store)
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "plain-001")), given: ["log": dir.path + "/log"])
        let shell = RecordingExecutor { _ in ExecutionResult(succeeded: true, exitStatus: 0, summary: "exit") }
        let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        clock.advance(seconds: 60)
        _ = try await interpreter.start(plan, in: store, runID: "index", seed: 1)
        try await runs("F", in: store)
        let listed = try answers().list
        XCTAssertEqual(listed.map(\.id), ["run-001", "index", "run-002"])
        XCTAssertEqual(listed.map(\.outcome), [.succeeded, .succeeded, .failed])
        XCTAssertEqual(listed, try fromJournals(store))
    }

    func testTheIndexIsRebuiltAfterItIsDeletedCutAtAnyByteOrChanged() async throws {
        let store = try RunStore(directory: state, clock: clock)
        try await runs("SFRSF", in: store)
        let expected = try fromJournals(store)
        XCTAssertEqual(expected.map(\.outcome), [.succeeded, .failed, .refused, .succeeded, .failed])
        XCTAssertEqual(try answers().list, expected)
        let whole = try Data(contentsOf: URL(fileURLWithPath: indexPath))
        XCTAssertFalse(whole.isEmpty)

        try FileManager.default.removeItem(atPath: indexPath)
        XCTAssertEqual(try answers().list, expected, "rebuilt after it was deleted")
        XCTAssertTrue(FileManager.default.fileExists(atPath: indexPath))

        for cut in 0..<whole.count {
            try whole.prefix(cut).write(to: URL(fileURLWithPath: indexPath))
            let found = try answers()
            XCTAssertEqual(found.list, expected, "cut at byte \(cut)")
            XCTAssertEqual(found.since, expected.map(\.id), "cut at byte \(cut)")
            XCTAssertTrue(found.succeeded, "cut at byte \(cut)")
        }
        for offset in stride(from: 0, to: whole.count, by: 3) {
            var changed = whole
            changed[offset] = changed[offset] == UInt8(ascii: "x") ? UInt8(ascii: "y") : UInt8(ascii: "x")
            try changed.write(to: URL(fileURLWithPath: indexPath))
            let found = try answers()
            XCTAssertEqual(found.list, expected, "byte \(offset) changed")
            XCTAssertEqual(found.since, expected.map(\.id), "byte \(offset) changed")
        }
        // An index of another state directory's runs (or none of these) is checked, not trusted.
        try Data("garbage\n".utf8).write(to: URL(fileURLWithPath: indexPath))
        XCTAssertEqual(try answers().list, expected)
    }

    func testAStoreKeptOpenSeesRunsItDidNotStartWithoutListingTheJournalsAgain() async throws {
        let watching = try RunStore(directory: state, clock: clock)
        watching.refresh()
        XCTAssertEqual(watching.runs(startedSince: .distantPast).count, 0)
        let other = try RunStore(directory: state, clock: clock)
        let ids = try await runs("SF", in: other)
        watching.refresh()
        XCTAssertEqual(watching.runs(startedSince: .distantPast).map(\.summary.id), ids)
        XCTAssertEqual(watching.runs(startedSince: .distantPast).map(\.summary.outcome), [.succeeded, .failed])
        XCTAssertTrue(watching.hasSucceeded("plain-001"))
        XCTAssertEqual(watching.lastOutcomes(of: "plain-001", count: 1), [.failed])
    }

    func testARunOfTheMedicBinaryIsSeenAndOneKilledIsReportedInterrupted() async throws {
        let watching = try RunStore(directory: state)
        watching.refresh()
        let finished = try medic(["run", "plain-001", "--param", "log=\(dir.path)/log"])
        XCTAssertEqual(finished.status, 0)
        watching.refresh()
        XCTAssertEqual(watching.runs(startedSince: .distantPast).map(\.summary.outcome), [.succeeded])
        XCTAssertEqual(watching.unfinishedRuns().count, 0)

        let lingerLog = dir.path + "/linger"
        let process = Process()
        process.executableURL = medicBinary
        process.arguments = ["run", "linger-001", "--param", "log=\(lingerLog)", "--state-dir", state, "--root", dir.path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if let pid = (try? String(contentsOfFile: lingerLog, encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                kill(-pid, SIGKILL)  // the step's process group: its shell and the sleep
                kill(pid, SIGKILL)
            }
        }
        var started = false
        for _ in 0..<1200 where !started {
            started = FileManager.default.fileExists(atPath: lingerLog)
            if !started { usleep(50_000) }
        }
        XCTAssertTrue(started, "the lingering step never started")
        watching.refresh()
        XCTAssertEqual(watching.unfinishedRuns().map(\.summary.status), [.running])
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        watching.refresh()
        XCTAssertEqual(watching.unfinishedRuns().map(\.summary.status), [.interrupted], "its lock is free: the run is interrupted")
        let listed = try RunStore(directory: state).list()
        XCTAssertEqual(listed.runs.map(\.status), [.finished, .interrupted])
    }

    func testTheBreakerContinuedFromItsKeptReplaySaysWhatAWholeReplaySays() async throws {
        let store = try RunStore(directory: state, clock: clock)
        let breaker = RemediationBreaker(stateDirectory: state, cooldown: 600)
        var generator = SystemRandomNumberGenerator()
        for round in 0..<12 {
            let pattern = String((0..<Int.random(in: 1...4, using: &generator)).map { _ in "SFFR".randomElement(using: &generator)! })
            try await runs(pattern, in: store)
            if round == 6 { try await breaker.reset("plain-001", by: "test", reason: nil, now: clock.now) }
            store.refresh()
            let kept = breaker.status(of: "plain-001", now: clock.now, history: store)
            let whole = await breaker.status(of: "plain-001", now: clock.now, runs: store.list().runs)
            XCTAssertEqual(kept, whole, "after round \(round)")
        }
    }

    func testADamagedFinishedJournalMakesTheCountingGatesRefuseThoughTheIndexListedIt() async throws {
        let store = try RunStore(directory: state, clock: clock)
        let ids = try await runs("SS", in: store)
        XCTAssertEqual(store.list().runs.map(\.status), [.finished, .finished])
        let path = store.journalPath(ids[0])
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let at = bytes.count / 2
        bytes[at] = bytes[at] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.write(contentsOf: bytes)
        try handle.close()
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "plain-001")), given: ["log": "x"])
        let verdicts = await GatePipeline.standard.evaluate(GateContext(plan: plan, catalog: catalog, mode: .automated,
                                                                        stateDirectory: state, now: clock.now))
        let breaker = try XCTUnwrap(verdicts.first { $0.gate == .breaker })
        XCTAssertEqual(breaker.decision, .refuse, breaker.reason)
        XCTAssertTrue(breaker.reason.contains("the journal of run \(ids[0]) is damaged"), breaker.reason)
    }

    func testStoppingOneStoreLeavesAnotherInTheSameProcessAppending() async throws {
        let stopped = try RunStore(directory: state + "-a", clock: clock)
        let going = try RunStore(directory: state + "-b", clock: clock)
        stopped.stopAppending()
        XCTAssertTrue(stopped.isStopping)
        XCTAssertFalse(going.isStopping)
        let (journal, lock) = try stopped.create(runID: "r1")
        let plan = try Planner(catalog: catalog).plan(try XCTUnwrap(catalog.playbook(id: "plain-001")), given: ["log": "x"])
        let started = JournalRecord.runStarted(run: "r1", plan: plan, mode: .manual, pid: getpid(), host: "h", seed: 1)
        XCTAssertThrowsError(try journal.append(started))
        let (other, otherLock) = try going.create(runID: "r1")
        XCTAssertNoThrow(try other.append(started))
        withExtendedLifetime((lock, otherLock)) {}
        try? FileManager.default.removeItem(atPath: state + "-a")
        try? FileManager.default.removeItem(atPath: state + "-b")
    }

    // MARK: - The binary

    private var medicBinary: URL {
        let products = Bundle.main.bundleURL
        if FileManager.default.isExecutableFile(atPath: products.appendingPathComponent("medic").path) {
            return products.appendingPathComponent("medic")
        }
        return Bundle(for: RunIndexTests.self).bundleURL.deletingLastPathComponent().appendingPathComponent("medic")
    }

    private func medic(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = medicBinary
        process.arguments = arguments + ["--state-dir", state, "--root", dir.path]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }
}

private extension String {
    func leftPadded(_ width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
