import Foundation
@testable import MedicEngine
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// What `medic runs` lists besides the journals it reads: a run claimed in the index whose
/// journal is not written yet is not listed while its process holds its lock, and is dropped
/// once nobody does; a journal the folder holds but the index does not know is listed.
final class RunListingClaimTests: XCTestCase {
    private var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-claims-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    /// A finished run of `CleanLibrary`'s playbook, started by the interpreter as Medic starts one.
    private func finishedRun(_ id: String, in store: RunStore) async throws {
        let loaded = CatalogLoader().load(documents: CleanLibrary.files().map { ($0.0, Array($0.1.utf8)) })
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        let plan = try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbook(id: "clean-001")), given: ["path": "/x"])
        let clock = ManualClock()
        let interpreter = Interpreter(executors: ExecutorSet(shell: RecordingExecutor(), bus: RecordingExecutor(), http: RecordingExecutor()),
                                      verifier: Verifier(evaluator: ConditionEvaluator(metrics: MetricRegistry(sources: [])), clock: clock),
                                      clock: clock)
        let outcome = try await interpreter.start(plan, in: store, runID: id, seed: 1)
        XCTAssertEqual(outcome.runID, id)
    }

    private func claim(_ id: String, in store: RunStore) {
        let summary = RunSummary(id: id, playbookID: "clean-001", playbookVersion: "1.0.0", startedAt: "2026-12-07T07:00:00.000Z",
                                 updatedAt: "2026-12-07T07:00:00.000Z", status: .running, outcome: nil, journal: "")
        XCTAssertTrue(store.index.file.append([RunIndexEntry(summary: summary, stamp: nil)]))
    }

    func testAClaimWithoutItsJournalIsNotListedAndIsDroppedOnceItsLockIsFree() async throws {
        let state = dir.appendingPathComponent("state").path
        let store = try RunStore(directory: state)
        try await finishedRun("20261207-065900-00000001", in: store)
        try await finishedRun("20261207-065901-00000002", in: store)
        XCTAssertEqual(store.list().runs.map(\.id), ["20261207-065900-00000001", "20261207-065901-00000002"])

        // Claimed by a process that holds the run's lock and has not written its journal yet.
        claim("20261207-070000-00000003", in: store)
        var held: RunLock? = try XCTUnwrap(try RunLock(path: state + "/runs/20261207-070000-00000003.lock"))
        for _ in 0..<2 {
            let listed = try RunStore(directory: state).list()
            XCTAssertEqual(listed.runs.map(\.id), ["20261207-065900-00000001", "20261207-065901-00000002"])
            XCTAssertEqual(listed.problems, [])
        }
        // The claim stays in the index while its lock is held: a reader that keeps it sees it.
        let keeping = try RunStore(directory: state)
        _ = keeping.list()
        XCTAssertEqual(keeping.index.entry("20261207-070000-00000003").map { RunIndex.isClaim($0) }, true)

        // Its process gone without a journal: the claim is dropped, and nothing else changes.
        withExtendedLifetime(held) {}
        held = nil
        let after = try RunStore(directory: state)
        XCTAssertEqual(after.list().runs.map(\.id), ["20261207-065900-00000001", "20261207-065901-00000002"])
        XCTAssertNil(after.index.entry("20261207-070000-00000003"))
        // And the index file says so: the run's latest line there is its removal (or none).
        let file = try XCTUnwrap(after.index.file.read())
        let latest = try XCTUnwrap(RunIndexFormat.latestEntries(file.bytes[...])).entries
        XCTAssertEqual(latest.first { $0.summary.id == "20261207-070000-00000003" }?.removed ?? true, true)
        XCTAssertEqual(latest.filter { !$0.removed }.map(\.summary.id).sorted(), ["20261207-065900-00000001", "20261207-065901-00000002"])
    }

    func testAJournalTheIndexDoesNotKnowIsListedAndAFinishedRunWithoutItsMarkIsRecorded() async throws {
        let state = dir.appendingPathComponent("state").path
        let store = try RunStore(directory: state)
        try await finishedRun("20261207-065900-00000001", in: store)
        try await finishedRun("20261207-065901-00000002", in: store)
        _ = store.list(reconcilingIncidents: true)
        let marks = { try FileManager.default.contentsOfDirectory(atPath: state + "/runs").filter { $0.hasSuffix(".recorded") }.sorted() }
        XCTAssertEqual(try marks(), ["20261207-065900-00000001.recorded", "20261207-065901-00000002.recorded"])

        // A journal moved in from another state directory (no index line here, no mark), and
        // one run's mark lost.
        let copied = "20261207-065902-00000003"
        let elsewhere = dir.appendingPathComponent("elsewhere").path
        try await finishedRun(copied, in: try RunStore(directory: elsewhere))
        try FileManager.default.moveItem(atPath: elsewhere + "/runs/\(copied).jsonl", toPath: state + "/runs/\(copied).jsonl")
        try FileManager.default.removeItem(atPath: state + "/runs/20261207-065900-00000001.recorded")
        let listed = try RunStore(directory: state).list(reconcilingIncidents: true)
        XCTAssertEqual(listed.runs.map(\.id), ["20261207-065900-00000001", "20261207-065901-00000002", copied].sorted())
        XCTAssertEqual(try marks(), ["20261207-065900-00000001.recorded", "20261207-065901-00000002.recorded", "\(copied).recorded"])
    }
}
