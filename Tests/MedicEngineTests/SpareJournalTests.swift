@testable import MedicEngine
import Foundation
import MedicEngineTestKit
import MedicLoader
import MedicModel
import XCTest

/// A journal file made ahead (`SpareJournals`): a run's journal is the spare renamed, and what a
/// process killed before the rename, or a power cut that lost it, leaves in a spare is put back
/// under the run's name by the next listing, so no run whose first record was durable is lost.
final class SpareJournalTests: XCTestCase {
    private var dir: URL!
    private var state: String { dir.appendingPathComponent("state").path }
    private var runs: String { state + "/runs" }

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("medic-spare-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func plan() throws -> Plan {
        let actions = """
            actions:
              plain: {type: infrastructure, risk_level: low, parameters: {}, implementation: "true"}
            """
        let playbook = """
            playbook_id: plain-001
            name: Plain
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            remediation_steps:
              - {step: 1, name: a, action: plain}
            metadata: {}
            """
        let loaded = CatalogLoader().load(documents: [("actions/a.yaml", Array(actions.utf8)), ("playbooks/p.yaml", Array(playbook.utf8))])
        XCTAssertFalse(loaded.hasErrors, DiagnosticRenderer.text(loaded.diagnostics))
        return try Planner(catalog: loaded.catalog).plan(try XCTUnwrap(loaded.catalog.playbook(id: "plain-001")), given: [:])
    }

    private func started(_ id: String) throws -> JournalRecord {
        JournalRecord.runStarted(run: id, plan: try plan(), mode: .automated, pid: getpid(), host: "h", seed: 1)
    }

    private func names() -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: runs)) ?? []).sorted() }
    private func spares() -> [String] { names().filter { $0.hasPrefix(".spare-") } }

    private func inode(_ path: String) -> UInt64? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : nil
    }

    func testARunsJournalIsTheSpareMadeAheadAndAnotherIsMadeForTheNext() throws {
        let store = try RunStore(directory: state)
        store.keepSpareJournal()
        XCTAssertTrue(store.spares.isReady, "the first spare is made when asked for")
        let spare = try XCTUnwrap(spares().first)
        let before = try XCTUnwrap(inode(runs + "/" + spare))
        let (journal, lock) = try store.create(runID: "r1")
        try journal.append(try started("r1"))
        try journal.append(.stepStarted(step: 1, phase: .step, attempt: 1, item: nil, idempotent: true))
        XCTAssertEqual(inode(store.journalPath("r1")), before, "the spare became the journal")
        XCTAssertFalse(names().contains(spare))
        XCTAssertEqual(try store.read(runID: "r1").records.map(\.event), [.runStarted, .stepStarted])
        for _ in 0..<600 where !store.spares.isReady { usleep(10_000) }
        XCTAssertTrue(store.spares.isReady, "the next spare is made in the background")
        XCTAssertEqual(spares().count, 1)
        withExtendedLifetime(lock) {}
    }

    /// What a power cut after the rename leaves when the rename was not yet durable (the next
    /// spare's directory sync makes it so), and what a process killed between the spare's
    /// `fdatasync` and the rename leaves: the run's records under the spare's name.
    func testARunLeftInASpareIsPutBackUnderItsNameAndListedInterrupted() throws {
        do {
            let store = try RunStore(directory: state)
            let (journal, lock) = try store.create(runID: "r1")
            try journal.append(try started("r1"))
            try journal.append(.stepStarted(step: 1, phase: .step, attempt: 1, item: nil, idempotent: true))
            withExtendedLifetime(lock) {}
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: runs + "/r1.jsonl"))
        XCTAssertEqual(rename(runs + "/r1.jsonl", runs + "/.spare-5ca1ab1e"), 0)
        let reopened = try RunStore(directory: state)
        let (listed, problems) = reopened.list()
        XCTAssertEqual(listed.map(\.id), ["r1"])
        XCTAssertEqual(listed.first?.status, .interrupted, "its process is gone: marked interrupted, for resume")
        XCTAssertTrue(problems.contains { $0.contains("the journal of run r1 was found under .spare-5ca1ab1e") }, "\(problems)")
        XCTAssertEqual(spares(), [])
        let records = try reopened.read(runID: "r1").records
        XCTAssertEqual(records.map(\.event), [.runStarted, .stepStarted, .runInterrupted])
        XCTAssertTrue(try Data(contentsOf: URL(fileURLWithPath: runs + "/r1.jsonl")).starts(with: bytes))
        // A run named by its id is found the same way.
        XCTAssertEqual(rename(runs + "/r1.jsonl", runs + "/.spare-0dd"), 0)
        XCTAssertEqual(try RunStore(directory: state).resolve("r1"), "r1")
        XCTAssertEqual(spares(), [])
    }

    /// A server restarted after a crash looks for its alert's run by id before anything lists
    /// the runs: a run left in a spare is found (it was not, so the server started the run again).
    func testARunLeftInASpareIsFoundByItsIdAndCannotBeCreatedAgain() throws {
        do {
            let store = try RunStore(directory: state)
            let (journal, lock) = try store.create(runID: "r2")
            try journal.append(try started("r2"))
            try journal.append(.stepStarted(step: 1, phase: .step, attempt: 1, item: nil, idempotent: false))
            withExtendedLifetime(lock) {}
        }
        XCTAssertEqual(rename(runs + "/r2.jsonl", runs + "/.spare-5ca1ab1e"), 0)
        let restarted = try RunStore(directory: state)
        XCTAssertEqual(try restarted.read(runID: "r2").records.map(\.event), [.runStarted, .stepStarted])
        XCTAssertEqual(spares(), [])
        XCTAssertEqual(rename(runs + "/r2.jsonl", runs + "/.spare-0dd"), 0)
        XCTAssertThrowsError(try RunStore(directory: state).create(runID: "r2"), "a run left in a spare was created again")
        XCTAssertEqual(spares(), [])
    }

    func testASpareWithNothingWholeInItIsRemovedAndOneHeldIsLeftAlone() throws {
        let store = try RunStore(directory: state)
        let empty = runs + "/.spare-e", torn = runs + "/.spare-7", held = runs + "/.spare-4e1d"
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: nil))
        XCTAssertTrue(FileManager.default.createFile(atPath: torn, contents: Data(#"{"at":"2026-12-06T10:00:00.000Z","event":"run_sta"#.utf8)))
        XCTAssertTrue(FileManager.default.createFile(atPath: held, contents: nil))
        let holder = open(held, O_RDONLY)
        defer { close(holder) }
        XCTAssertEqual(flock(holder, LOCK_EX | LOCK_NB), 0)
        let (listed, problems) = store.list()
        XCTAssertEqual(listed.map(\.id), [])
        XCTAssertEqual(problems, [])
        XCTAssertEqual(spares(), [".spare-4e1d"], "a spare its process holds is its process's")
    }
}
