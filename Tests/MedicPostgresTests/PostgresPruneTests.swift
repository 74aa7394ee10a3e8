import Foundation
import MedicEngine
import MedicModel
import MedicPostgres
import MedicServeTestKit
import PostgresNIO
import XCTest

/// The retention policy applied to a real PostgreSQL (`PostgresStatePruner`): what a gate or a
/// server still needs stays, a dry run changes nothing, two prunes at once neither double-count
/// nor deadlock, and a run's records stay append-only outside a prune.
final class PostgresPruneTests: PostgresTestCase {
    /// The records of a real run of a one-step playbook (succeeded) by the `medic` binary, made
    /// once for every test that needs it.
    static let realRun = Result { try PostgresRunStoreTests.realRun() }

    /// A run of `records` written at `at`; its lease given up unless `holding`.
    static func write(_ store: PostgresRunStore, _ id: String, _ records: [JournalRecord], at: Date, holding: Bool = false) async throws {
        let journal = try await store.claim(runID: id)
        try await journal.append(records, now: at)
        if !holding { try await journal.release() }
    }

    private let policy = RetentionPolicy(runsMaxAge: Interval(seconds: 90 * 86_400), runsKeepAtLeast: 0)

    func testWhatAGateOrAServerStillNeedsStaysAndADryRunChangesNothing() async throws {
        let sample = try Self.realRun.get()
        let database = try await databases(1)[0]
        let store = PostgresRunStore(database, owner: "writer")
        let real = Date()
        for index in 1...14 {
            try await Self.write(store, String(format: "old-%02d", index), sample, at: real.addingTimeInterval(Double(index * 10 - 1000)))
        }
        try await Self.write(store, "firing-1", sample, at: real.addingTimeInterval(-5000))
        try await Self.write(store, "resolved-1", sample, at: real.addingTimeInterval(-5000))
        try await Self.write(store, "running-1", Array(sample.prefix(3)), at: real.addingTimeInterval(-6000), holding: true)
        try await Self.write(store, "interrupted-1", Array(sample.prefix(3)), at: real.addingTimeInterval(-6000))
        let incidents = PostgresIncidents(database)
        _ = try await incidents.open(key: "k-firing", body: #"{"status":"firing","run_id":"firing-1"}"#)
        _ = try await incidents.open(key: "k-resolved", body: #"{"status":"resolved","run_id":"resolved-1"}"#)
        let claimed = try await PostgresEscalationClaims(database).claim(incident: "k-resolved", level: 1, instance: "a", seconds: 60)
        XCTAssertTrue(claimed)
        try await PostgresRunRequesters(database).record("alice", for: "old-01")
        let outbox = PostgresOutbox(database)
        try await outbox.enqueue(["e1", "e2", "e3"].map { OutboxEvent(id: $0, json: Array("{}".utf8)) })
        let firstDispatched = try await outbox.dispatch(limit: 2) { _ in }
        XCTAssertEqual(firstDispatched, 2)

        // A year later: everything above is older than runs.max_age.
        let pruner = PostgresStatePruner(database, policy: policy, rateLimitWindow: nil, now: real.addingTimeInterval(365 * 86_400))
        let before = try await store.summaries().map(\.id).sorted()
        let dry = await pruner.prune(dryRun: true)
        XCTAssertEqual(dry.failures, [])
        let afterDryRun = try await store.summaries().map(\.id).sorted()
        XCTAssertEqual(afterDryRun, before, "a dry run pruned runs")
        let recordsAfterDryRun = try await PostgresRunRecords(database).records(of: "old-01").count
        XCTAssertEqual(recordsAfterDryRun, sample.count, "a dry run deleted records")
        let resolvedAfterDryRun = try await incidents.incident(key: "k-resolved")
        XCTAssertNotNil(resolvedAfterDryRun, "a dry run deleted an incident")

        let report = await pruner.prune(dryRun: false)
        XCTAssertEqual(report.failures, [])
        let pruned = ["resolved-1", "old-01", "old-02", "old-03", "old-04"]
        XCTAssertEqual(Set(report.runs.map(\.run)), Set(pruned))
        XCTAssertEqual(dry.runs, report.runs, "the dry run said what the prune did")
        XCTAssertEqual(dry.removed, report.removed, "the dry run counted what the prune deleted")
        XCTAssertEqual(report.kept, ["unfinished": 2, "last_success": 1, "breaker_window": 9, "firing_incident": 1])
        XCTAssertEqual(report.removed["medic_run_records"], pruned.count * sample.count)
        XCTAssertEqual(report.removed["medic_runs"], pruned.count)
        XCTAssertEqual(report.removed["medic_run_requesters"], 1)
        XCTAssertEqual(report.removed["medic_incidents"], 1)
        XCTAssertEqual(report.removed["medic_escalation_claims"], 1)
        XCTAssertEqual(report.removed["medic_outbox"], 2, "only the published events go")

        // The breaker's window, the unfinished runs and the firing incident's run are whole.
        let left = try await store.summaries()
        XCTAssertEqual(Set(left.map(\.id)), Set(before).subtracting(pruned))
        XCTAssertEqual(left.first { $0.id == "running-1" }?.status, .running)
        XCTAssertEqual(left.first { $0.id == "interrupted-1" }?.status, .interrupted)
        for id in ["old-05", "old-14", "firing-1", "running-1"] {
            let gone = try await PostgresRunRecords(database).records(of: id).isEmpty
            XCTAssertFalse(gone, "\(id)'s records were deleted")
        }
        let prunedRecords = try await PostgresRunRecords(database).records(of: "old-01").count
        XCTAssertEqual(prunedRecords, 0)
        let firingIncident = try await incidents.incident(key: "k-firing")
        XCTAssertNotNil(firingIncident)
        let resolvedIncident = try await incidents.incident(key: "k-resolved")
        XCTAssertNil(resolvedIncident)
        // The unpublished event is still there, and still published.
        let waiting = try await outbox.waiting()
        XCTAssertEqual(waiting, 1)
        let published = PublishedIDs()
        let dispatched = try await outbox.dispatch { events in published.add(events.map(\.id)) }
        XCTAssertEqual(dispatched, 1)
        XCTAssertEqual(published.ids, ["e3"])

        let again = await pruner.prune(dryRun: false)
        XCTAssertEqual(again.failures, [])
        XCTAssertEqual(again.runs, [], "a second prune finds nothing more")
    }

    func testTwoPrunesAtOnceNeitherDoubleCountNorDeadlock() async throws {
        let sample = try Self.realRun.get()
        let databases = try await databases(2)
        let store = PostgresRunStore(databases[0], owner: "writer")
        let real = Date()
        for index in 1...30 {
            try await Self.write(store, String(format: "run-%02d", index), sample, at: real.addingTimeInterval(Double(index * 10 - 1000)))
        }
        let later = real.addingTimeInterval(365 * 86_400)
        let policy = policy
        let reports = await withTaskGroup(of: PostgresPruneReport.self) { group in
            for database in databases {
                group.addTask {
                    await PostgresStatePruner(database, policy: policy, rateLimitWindow: nil, now: later, batchSize: 3).prune(dryRun: false)
                }
            }
            return await group.reduce(into: [PostgresPruneReport]()) { $0.append($1) }
        }
        for failure in reports.flatMap(\.failures) {
            XCTAssertTrue(failure.contains("another medic prune is running"), failure)
        }
        let runs = reports.flatMap(\.runs).map(\.run)
        XCTAssertEqual(runs.count, 20, "the 10 the breaker counts stay; the 20 others are pruned once: \(runs)")
        XCTAssertEqual(Set(runs).count, 20)
        XCTAssertEqual(reports.compactMap { $0.removed["medic_run_records"] }.reduce(0, +), 20 * sample.count)
        let last = await PostgresStatePruner(databases[1], policy: policy, rateLimitWindow: nil, now: later).prune(dryRun: false)
        XCTAssertEqual(last.failures, [])
        XCTAssertEqual(last.runs, [])
        let runsLeft = try await store.summaries().count
        XCTAssertEqual(runsLeft, 10)
    }

    /// Even inside a prune's transaction, the database refuses to delete the records of a run
    /// whose lease is held (its server is writing it).
    func testTheDatabaseRefusesToPruneTheRecordsOfALeasedRun() async throws {
        let sample = try Self.realRun.get()
        let database = try await databases(1)[0]
        try await Self.write(PostgresRunStore(database, owner: "writer"), "run-1", sample, at: Date(), holding: true)
        let logger = database.logger
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                for try await _ in try await connection.query("SET LOCAL medic.pruning = 'on'", logger: logger) {}
                for try await _ in try await connection.query("DELETE FROM medic_run_records WHERE run_id = 'run-1'", logger: logger) {}
            }
            XCTFail("the records of a leased run were deleted")
        } catch {
            let cause = (error as? PostgresTransactionError)?.closureError ?? error
            XCTAssertEqual((cause as? PSQLError)?.serverInfo?[.sqlState], "MD004", String(reflecting: error))
        }
        let recordsLeft = try await PostgresRunRecords(database).records(of: "run-1").count
        XCTAssertEqual(recordsLeft, sample.count)
    }
}

/// Event ids a publisher was handed, in order.
final class PublishedIDs: @unchecked Sendable {  // all state under `lock`
    private let lock = NSLock()
    private var seen: [String] = []
    func add(_ ids: [String]) { lock.withLock { seen += ids } }
    var ids: [String] { lock.withLock { seen } }
}
