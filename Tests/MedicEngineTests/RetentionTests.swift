import Foundation
import MedicEngine
import MedicEngineTestKit
import MedicKnowledge
import MedicLoader
import MedicModel
import XCTest

/// `StatePruner` (`medic prune`) over real state directories: runs made by the interpreter on a
/// manual clock, long ago, so that retention's `now` decides what is old.
final class RetentionTests: XCTestCase {
    static let actions = """
        actions:
          plain:
            type: infrastructure
            risk_level: low
            implementation: "true"
        """

    static let playbook = """
        playbook_id: tidy-001
        name: Tidy
        version: 1.0.0
        category: infrastructure
        severity: SEV3
        remediation_steps:
          - {step: 1, name: a, action: plain}
        metadata: {}
        """

    /// A state directory with runs one hour apart, the first `daysAgo` days before now.
    final class Bench {
        let store: RunStore
        let clock: ManualClock
        let plan: Plan
        var directory: String { store.directory }

        init(_ test: XCTestCase, daysAgo: Double) throws {
            let result = CatalogLoader().load(documents: [("actions/a.yaml", Array(RetentionTests.actions.utf8)),
                                                          ("playbooks/p.yaml", Array(RetentionTests.playbook.utf8))])
            XCTAssertFalse(result.hasErrors, DiagnosticRenderer.text(result.diagnostics))
            plan = try Planner(catalog: result.catalog).plan(try XCTUnwrap(result.catalog.playbooks.first))
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-retention-\(UUID().uuidString)")
            test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
            store = try RunStore(directory: dir.path)
            clock = ManualClock(start: Date().addingTimeInterval(-daysAgo * 86_400))
        }

        @discardableResult
        func run(_ succeed: Bool = true, gates: [GateVerdict] = [], after seconds: Double = 3600) async throws -> String {
            clock.advance(seconds: seconds)
            let shell = RecordingExecutor { _ in
                ExecutionResult(succeeded: succeed, exitStatus: succeed ? 0 : 3, summary: succeed ? "exit 0" : "exit 3")
            }
            let interpreter = Interpreter(executors: ExecutorSet(shell: shell, bus: RecordingExecutor(), http: RecordingExecutor()),
                                          verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                          clock: clock)
            var plan = plan
            plan.gates = gates
            return try await interpreter.start(plan, in: store, seed: 1).runID
        }

        func files(_ folder: String) -> Set<String> {
            Set((try? FileManager.default.contentsOfDirectory(atPath: directory + "/" + folder)) ?? [])
        }

        func breaker(now: Date) async -> RemediationBreaker.Status {
            await RemediationBreaker(stateDirectory: directory).status(of: "tidy-001", now: now)
        }

        func statistics(since: String? = nil) throws -> String {
            let knowledge = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: directory), create: false)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return String(decoding: try encoder.encode(try knowledge.incidentStatistics(since: since).statistics), as: UTF8.self)
        }

        func historyIDs(_ path: String) -> [String] {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["run_id"] as? String
            }
        }
    }

    static let waiting = [GateVerdict(gate: .approval, decision: .needsApproval, reason: "needs a person", needs: ["approval"])]

    func testPrunesOldFinishedRunsAndKeepsWhatTheGatesAndPeopleStillNeed() async throws {
        let bench = try Bench(self, daysAgo: 100)
        let pending = try await bench.run(gates: Self.waiting)
        var finished: [String] = []
        for index in 0..<20 { finished.append(try await bench.run(index % 4 != 3)) }
        // A damaged journal: one byte changed in an old finished run.
        let damaged = finished[0]
        let damagedPath = bench.store.journalPath(damaged)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: damagedPath))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: damagedPath))
        let pendingBytes = try Data(contentsOf: URL(fileURLWithPath: bench.store.journalPath(pending)))
        let now = Date()
        let breakerBefore = await bench.breaker(now: now)
        let breakerLaterBefore = await bench.breaker(now: now.addingTimeInterval(7200))
        let statisticsBefore = try bench.statistics()

        let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 30 * 86_400), runsKeepAtLeast: 0)
        let report = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: now).prune(dryRun: false)

        XCTAssertEqual(report.failures, [])
        // The breaker counts the newest 10 of the 19 whole finished runs; the newest success is kept
        // for safe mode; the damaged and the pending runs are never touched.
        let pruned = report.actions.compactMap(\.run)
        XCTAssertEqual(pruned, Array(finished[1..<10]), "the oldest whole finished runs beyond the breaker's window, oldest first")
        XCTAssertEqual(report.kept[.unfinished], 2)
        XCTAssertEqual(report.kept[.breakerWindow], 9)
        XCTAssertEqual(report.kept[.lastSuccess], 1)
        for id in pruned {
            XCTAssertTrue(bench.files("archive/runs").isSuperset(of: [id + ".jsonl", id + ".recorded"]), id)
            XCTAssertFalse(bench.files("runs").contains { $0.hasPrefix(id) }, "nothing of \(id) is left in runs/")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: bench.store.journalPath(pending))), pendingBytes)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: damagedPath)), bytes)
        let breakerAfter = await bench.breaker(now: now)
        XCTAssertEqual(breakerAfter, breakerBefore)
        let breakerLaterAfter = await bench.breaker(now: now.addingTimeInterval(7200))
        XCTAssertEqual(breakerLaterAfter, breakerLaterBefore)
        XCTAssertEqual(try bench.statistics(), statisticsBefore, "pruning journals leaves the incident records alone")

        // Nothing more to do: a second prune prunes nothing.
        let again = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: now).prune(dryRun: false)
        XCTAssertEqual(again.actions, [])
        XCTAssertEqual(again.failures, [])
    }

    func testKeepsRunsInsideTheLongestRateLimitWindowAndTheNewestAndTheYoung() async throws {
        let bench = try Bench(self, daysAgo: 100)
        for _ in 0..<15 { try await bench.run() }
        let now = Date()
        let inWindow = StatePruner(stateDirectory: bench.directory, policy: RetentionPolicy(runsMaxAge: Interval(seconds: 86_400), runsKeepAtLeast: 0),
                                   rateLimitWindow: Interval(seconds: 200 * 86_400), now: now).prune(dryRun: true)
        XCTAssertEqual(inWindow.actions, [])
        XCTAssertEqual(inWindow.kept[.rateLimitWindow], 15)
        let newest = StatePruner(stateDirectory: bench.directory, policy: RetentionPolicy(runsMaxAge: Interval(seconds: 86_400), runsKeepAtLeast: 12),
                                 rateLimitWindow: nil, now: now).prune(dryRun: true)
        XCTAssertEqual(newest.actions.count, 3)
        XCTAssertEqual(newest.kept[.newest], 12)
        let young = StatePruner(stateDirectory: bench.directory, policy: RetentionPolicy(runsMaxAge: Interval(seconds: 365 * 86_400), runsKeepAtLeast: 0),
                                rateLimitWindow: nil, now: now).prune(dryRun: true)
        XCTAssertEqual(young.actions, [])
        let capped = StatePruner(stateDirectory: bench.directory, policy: RetentionPolicy(runsMaxAge: Interval(seconds: 365 * 86_400), runsKeepAtLeast: 0, runsKeepAtMost: 2),
                                 rateLimitWindow: nil, now: now).prune(dryRun: true)
        XCTAssertEqual(capped.actions.count, 5, "beyond keep_at_most, only the breaker's window of 10 stays")
    }

    func testDryRunNamesExactlyWhatThePruneDoesAndChangesNothing() async throws {
        let bench = try Bench(self, daysAgo: 100)
        for _ in 0..<14 { try await bench.run() }
        bench.clock.advance(seconds: 80 * 86_400)
        for _ in 0..<3 { try await bench.run() }
        let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 30 * 86_400), runsKeepAtLeast: 0,
                                     knowledgeMaxAge: Interval(seconds: 30 * 86_400))
        let now = Date()
        let before = try snapshot(bench.directory)
        let dry = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: now).prune(dryRun: true)
        XCTAssertEqual(try snapshot(bench.directory), before, "a dry run writes nothing")
        XCTAssertFalse(dry.actions.isEmpty)
        let real = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: now).prune(dryRun: false)
        XCTAssertEqual(real.actions.map(\.line), dry.actions.map(\.line))
        XCTAssertEqual(real.failures, [])
    }

    func testOldIncidentRecordsAreArchivedOnceAndTheWindowsReportsUseAreUnchanged() async throws {
        let bench = try Bench(self, daysAgo: 200)
        var old: [String] = []
        for index in 0..<6 { old.append(try await bench.run(index != 2)) }
        bench.clock.advance(seconds: 180 * 86_400)
        var recent: [String] = []
        for index in 0..<4 { recent.append(try await bench.run(index != 1)) }
        let now = Date()
        let since = HistoryTime.text(now.addingTimeInterval(-40 * 86_400))
        let windowBefore = try bench.statistics(since: since)
        // A run whose record is not marked written: `medic runs` would look for its record, so it stays.
        XCTAssertEqual(unlink(bench.directory + "/runs/" + old[0] + ".recorded"), 0)
        let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 86_400), runsKeepAtLeast: 0, knowledgeMaxAge: Interval(seconds: 60 * 86_400))
        let report = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: now).prune(dryRun: false)
        XCTAssertEqual(report.failures, [])
        let history = KnowledgeBase.defaultDirectory(inState: bench.directory) + "/incident-history.jsonl"
        XCTAssertEqual(bench.historyIDs(history), [old[0]] + recent)
        let segments = bench.files("archive/knowledge").filter { $0.hasSuffix(".jsonl") }
        XCTAssertEqual(segments.count, 1)
        XCTAssertEqual(bench.historyIDs(bench.directory + "/archive/knowledge/" + segments.first!), Array(old.dropFirst()))
        XCTAssertEqual(report.actions.last?.records, 5)
        XCTAssertEqual(report.kept[.incidentRecordMissing], 1)
        XCTAssertTrue(FileManager.default.fileExists(atPath: bench.store.journalPath(old[0])))
        XCTAssertEqual(try bench.statistics(since: since), windowBefore, "a window the prune did not reach counts the same")
        // Appends go on in the new file.
        let knowledge = try KnowledgeBase(directory: KnowledgeBase.defaultDirectory(inState: bench.directory))
        _ = try knowledge.append(Array(#"{"note":1}"#.utf8), to: .incidentHistory)
        XCTAssertEqual(try String(contentsOfFile: history, encoding: .utf8).split(separator: "\n").count, 6)
    }

    func testDeleteDisposalRemovesWithoutArchive() async throws {
        let bench = try Bench(self, daysAgo: 100)
        var ids: [String] = []
        for _ in 0..<12 { ids.append(try await bench.run()) }
        let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 86_400), runsKeepAtLeast: 0, disposal: .delete)
        let report = StatePruner(stateDirectory: bench.directory, policy: policy, rateLimitWindow: nil, now: Date()).prune(dryRun: false)
        XCTAssertEqual(report.actions.map(\.action), [.deleteRun, .deleteRun])
        XCTAssertEqual(report.actions.compactMap(\.run), Array(ids[0..<2]))
        XCTAssertEqual(bench.files("archive/runs"), [])
        XCTAssertFalse(bench.files("runs").contains { $0.hasPrefix(ids[0]) || $0.hasPrefix(ids[1]) })
    }

    /// Every file under `directory` with its bytes.
    private func snapshot(_ directory: String) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: directory)
        while let path = enumerator?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            let full = directory + "/" + path
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue {
                files[path] = FileManager.default.contents(atPath: full)
            } else {
                files[path + "/"] = Data()
            }
        }
        return files
    }
}

/// The incident history's spelling of a time (RFC 3339 UTC with milliseconds), as `--since` takes it.
enum HistoryTime {
    static func text(_ date: Date) -> String { date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
}
