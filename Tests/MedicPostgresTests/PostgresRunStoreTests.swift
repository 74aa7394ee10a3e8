import Foundation
import MedicServeTestKit
import MedicEngine
import MedicPostgres
import XCTest

/// Runs in a real PostgreSQL: claimed once, written under their lease, taken over when their
/// instance stops renewing, listed from the summaries their records make.
final class PostgresRunStoreTests: PostgresTestCase {
    /// The records of a real run of a one-step playbook by the `medic` binary (its file journal).
    nonisolated(unsafe) static var sample: [JournalRecord] = []
    nonisolated(unsafe) static var sampleFailure: (any Error)?

    override class func setUp() {
        super.setUp()
        do { sample = try realRun() } catch { sampleFailure = error }
    }

    static func realRun() throws -> [JournalRecord] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("medic-pg-run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("actions"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("playbooks"), withIntermediateDirectories: true)
        try """
            actions:
              note:
                type: infrastructure
                risk_level: low
                parameters: {log: required}
                implementation: echo noted >> "${log}"
            """.write(to: folder.appendingPathComponent("actions/note.yaml"), atomically: true, encoding: .utf8)
        try """
            playbook_id: note-001
            name: Note
            version: 1.0.0
            category: infrastructure
            severity: SEV3
            parameters:
              log: {type: string, default: "LOG"}
            remediation_steps:
              - {step: 1, name: note, action: note}
            metadata: {}
            """.write(to: folder.appendingPathComponent("playbooks/note-001.yaml"), atomically: true, encoding: .utf8)
        let state = folder.appendingPathComponent("state").path
        let run = try MedicBinary.run(["run", "note-001", "--root", folder.path, "--state-dir", state,
                                       "--param", "log=\(folder.appendingPathComponent("note.log").path)"])
        guard run.status == 0 else { throw LocalPostgres.Failure("medic run failed: \(run.stderr)") }
        let runs = try FileManager.default.contentsOfDirectory(atPath: state + "/runs").filter { $0.hasSuffix(".jsonl") }
        guard let journal = runs.first else { throw LocalPostgres.Failure("no journal") }
        let text = try String(contentsOfFile: state + "/runs/" + journal, encoding: .utf8)
        return try text.split(separator: "\n").map { try JournalCodec.decode($0) }
    }

    private func instances(_ count: Int, lease: Double = 30) async throws -> [PostgresRunStore] {
        if let sampleFailure = Self.sampleFailure { throw sampleFailure }
        return try await databases(count).enumerated().map { PostgresRunStore($1, owner: "instance-\($0)", leaseSeconds: lease) }
    }

    func testARunIdIsClaimedOnceAndItsSummaryFollowsItsRecords() async throws {
        let stores = try await instances(4)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for store in stores { group.addTask { (try? await store.claim(runID: "run-1")) != nil } }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(outcomes.filter { $0 }.count, 1, "one instance created run-1")
        do {
            _ = try await stores[0].claim(runID: "../escape")
            XCTFail("an invalid id is refused")
        } catch is JournalError {}

        let journal = try await stores[1].claim(runID: "run-2")
        let sample = Self.sample
        XCTAssertGreaterThan(sample.count, 4)
        let now = Date(timeIntervalSince1970: 1_765_000_000)
        try await journal.append(Array(sample.prefix(3)), now: now)
        let running = try await stores[2].summaries()
        XCTAssertEqual(running.map(\.id), ["run-2"])
        XCTAssertEqual(running.first?.status, .running)
        XCTAssertEqual(running.first?.playbookID, "note-001")
        try await journal.append(Array(sample.dropFirst(3)), now: now.addingTimeInterval(1))
        let finished = try await stores[3].summaries()
        XCTAssertEqual(finished.first?.status, .finished)
        XCTAssertEqual(finished.first?.outcome, .succeeded)
        let read = try await stores[3].records(of: "run-2")
        XCTAssertEqual(read.map(\.seq), Array(1...sample.count))
        XCTAssertEqual(read.map(\.event), sample.map(\.event))
        XCTAssertEqual(read.first?.plan, sample.first?.plan, "the plan survives the database whole")
    }

    /// An instance stops renewing (it died, or paused): its run reads interrupted once the lease
    /// expires, another instance takes it over and goes on, and the first one's late write and
    /// renewal are refused.
    func testARunIsTakenOverAfterItsLeaseExpiresAndTheOldOwnerIsFencedOff() async throws {
        let stores = try await instances(2, lease: 0.5)
        let first = try await stores[0].claim(runID: "run-3")
        let sample = Self.sample
        try await first.append(Array(sample.prefix(2)), now: Date())
        let stillHeld = try await stores[1].takeOver(runID: "run-3")
        XCTAssertNil(stillHeld, "not taken over while its lease lasts")

        var taken: (PostgresRunJournal, [JournalRecord])?
        let giveUp = Date().addingTimeInterval(30)
        while taken == nil, Date() < giveUp {
            taken = try await stores[1].takeOver(runID: "run-3")
            if taken == nil { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        let (second, records) = try XCTUnwrap(taken)
        XCTAssertEqual(records.map(\.seq), [1, 2])
        do {
            try await first.append([sample[2]], now: Date())
            XCTFail("the old owner's late write must be refused")
        } catch let refusal as PostgresRunRecords.Refused {
            guard case .staleToken = refusal else { return XCTFail("\(refusal)") }
        }
        let renewed = try await first.renew()
        XCTAssertFalse(renewed, "the old owner learns it lost the run")
        try await second.append(Array(sample.dropFirst(2)), now: Date())
        let final = try await stores[0].records(of: "run-3")
        XCTAssertEqual(final.map(\.seq), Array(1...sample.count))
        try await second.release()
        let listed = try await stores[0].summaries()
        XCTAssertEqual(listed.first?.status, .finished)
    }

    func testARunWithoutAnOutcomeWhoseLeaseExpiredReadsInterrupted() async throws {
        let stores = try await instances(1, lease: 0.3)
        let journal = try await stores[0].claim(runID: "run-4")
        try await journal.append(Array(Self.sample.prefix(3)), now: Date())
        var status: RunStatus?
        let giveUp = Date().addingTimeInterval(30)
        while status != .interrupted, Date() < giveUp {
            status = try await stores[0].summaries().first?.status
            if status != .interrupted { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertEqual(status, .interrupted)
    }
}
