import Foundation
import MedicEngine
import MedicPostgres
import PostgresNIO
import XCTest

/// Leases and fencing tokens against a real PostgreSQL, with several instances (each its own
/// connection pool, as separate servers would have).
final class LeaseFencingTests: PostgresTestCase {
    private func record(_ seq: Int, _ message: String) -> JournalRecord {
        var record = JournalRecord.stepSkipped(step: 1, message: message)
        record.seq = seq
        record.at = "2026-12-06T09:00:00.000Z"
        return record
    }

    /// 8 instances race for each of 1,000 free names: each name gets exactly one holder.
    func testOfEightInstancesAcquiringAFreeNameExactlyOneGetsIt() async throws {
        let databases = try await databases(8)
        let trials = 1_000
        let winners = try await withThrowingTaskGroup(of: [Int: Int64].self) { group in
            for (number, database) in databases.enumerated() {
                group.addTask {
                    let leases = PostgresLeases(database)
                    var won: [Int: Int64] = [:]
                    for trial in 0..<trials {
                        if let lease = try await leases.acquire("target-\(trial)", owner: "instance-\(number)", seconds: 600) {
                            won[trial] = lease.token
                        }
                    }
                    return won
                }
            }
            return try await group.reduce(into: [[Int: Int64]]()) { $0.append($1) }
        }
        for trial in 0..<trials {
            let holders = winners.filter { $0[trial] != nil }.count
            XCTAssertEqual(holders, 1, "target-\(trial) has \(holders) holders")
        }
        let tokens = winners.flatMap(\.values)
        XCTAssertEqual(Set(tokens).count, trials, "every grant has its own token")
    }

    /// 8 instances × 1,000 claims of one target's 50 ms lease: the holders' periods (by the database's clock) never
    /// overlap, and each later holder's token is greater.
    func testHoldersOfOneNameNeverOverlapInTime() async throws {
        // 8 instances each try 1,000 times to take one target's 50 ms lease.
        let databases = try await databases(8)
        let grants = try await withThrowingTaskGroup(of: [Lease].self) { group in
            for (number, database) in databases.enumerated() {
                group.addTask {
                    let leases = PostgresLeases(database)
                    var granted: [Lease] = []
                    for _ in 0..<1_000 {
                        if let lease = try await leases.acquire(PostgresTargetLeases.leaseName("web-1"), owner: "instance-\(number)", seconds: 0.05) {
                            granted.append(lease)
                        }
                    }
                    return granted
                }
            }
            return try await group.reduce(into: [Lease]()) { $0 += $1 }
        }
        XCTAssertGreaterThan(grants.count, 3, "the lease changed hands")
        let ordered = grants.sorted { $0.token < $1.token }
        for (earlier, later) in zip(ordered, ordered.dropFirst()) {
            // `expiresAt` is the grant's start plus 0.05 s, by the database's clock.
            let laterStart = later.expiresAt.addingTimeInterval(-0.05)
            XCTAssertGreaterThanOrEqual(laterStart.timeIntervalSince(earlier.expiresAt), -0.000_5,
                                        "token \(later.token) was granted before token \(earlier.token) expired")
        }
    }

    /// An instance that paused past its lease: its renewal fails and the database rejects its
    /// late writes; the new holder's writes go on.
    func testALateWriteUnderATakenOverLeaseIsRejectedByTheDatabase() async throws {
        let databases = try await databases(2)
        let (first, second) = (PostgresLeases(databases[0]), PostgresLeases(databases[1]))
        let (firstRecords, secondRecords) = (PostgresRunRecords(databases[0]), PostgresRunRecords(databases[1]))
        let old = try await XCTUnwrapAsync(try await first.acquire("run-1", owner: "a", seconds: 0.5))
        try await firstRecords.append([record(1, "start"), record(2, "step 1")], run: "run-1", under: old)
        let refused = try await second.acquire("run-1", owner: "b", seconds: 60)
        XCTAssertNil(refused, "an unexpired lease is not taken over")

        var taken: Lease?
        let giveUp = Date().addingTimeInterval(30)
        while taken == nil, Date() < giveUp {
            taken = try await second.acquire("run-1", owner: "b", seconds: 60)
            if taken == nil { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        let new = try XCTUnwrap(taken, "the expired lease was taken over")
        XCTAssertGreaterThan(new.token, old.token)

        do {
            try await firstRecords.append([record(3, "late")], run: "run-1", under: old)
            XCTFail("a write with a stale token must be rejected")
        } catch let refusal as PostgresRunRecords.Refused {
            XCTAssertEqual(refusal, .staleToken(lease: "run-1", token: old.token))
        }
        let renewed = try await first.renew(old, seconds: 60)
        XCTAssertNil(renewed, "the old holder learns it lost the lease")
        try await first.release(old)  // gives up nothing: the lease is no longer its token's
        let holder = try await second.holder(of: "run-1")
        XCTAssertEqual(holder?.token, new.token)

        try await secondRecords.append([record(3, "resumed")], run: "run-1", under: new)
        let kept = try await secondRecords.records(of: "run-1")
        XCTAssertEqual(kept.map(\.seq), [1, 2, 3])
        XCTAssertEqual(kept.map(\.message), ["start", "step 1", "resumed"])
    }

    /// An instance paused past its lease writes nothing once it wakes, even before anyone has
    /// taken the lease over.
    func testAWriteAfterTheLeaseExpiredIsRejectedEvenWithoutATakeover() async throws {
        let databases = try await databases(1)
        let leases = PostgresLeases(databases[0]), records = PostgresRunRecords(databases[0])
        let lease = try await XCTUnwrapAsync(try await leases.acquire("run-9", owner: "a", seconds: 0.3))
        try await records.append([record(1, "start")], run: "run-9", under: lease)
        var expired = false
        let giveUp = Date().addingTimeInterval(30)
        while !expired, Date() < giveUp {
            expired = try await leases.holder(of: "run-9") == nil
            if !expired { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(expired)
        do {
            try await records.append([record(2, "late")], run: "run-9", under: lease)
            XCTFail("a write under an expired lease must be rejected")
        } catch let refusal as PostgresRunRecords.Refused {
            XCTAssertEqual(refusal, .staleToken(lease: "run-9", token: lease.token))
        }
        let renewed = try await leases.renew(lease, seconds: 60)
        XCTAssertNil(renewed, "an expired lease is not renewed")
    }

    func testRenewKeepsTheTokenAndReleaseFreesTheName() async throws {
        let databases = try await databases(2)
        let (first, second) = (PostgresLeases(databases[0]), PostgresLeases(databases[1]))
        let lease = try await XCTUnwrapAsync(try await first.acquire("target", owner: "a", seconds: 60))
        let renewed = try await XCTUnwrapAsync(try await first.renew(lease, seconds: 120))
        XCTAssertEqual(renewed.token, lease.token)
        XCTAssertGreaterThan(renewed.expiresAt, lease.expiresAt)
        let blocked = try await second.acquire("target", owner: "b", seconds: 60)
        XCTAssertNil(blocked)
        try await first.release(renewed)
        let free = try await second.holder(of: "target")
        XCTAssertNil(free)
        let next = try await XCTUnwrapAsync(try await second.acquire("target", owner: "b", seconds: 60))
        XCTAssertGreaterThan(next.token, lease.token)
    }

    /// Records are numbered without gap or repeat, append-only, and one append is all or nothing.
    func testRunRecordsKeepTheirSequence() async throws {
        let databases = try await databases(1)
        let leases = PostgresLeases(databases[0]), records = PostgresRunRecords(databases[0])
        let lease = try await XCTUnwrapAsync(try await leases.acquire("run-2", owner: "a", seconds: 60))
        try await records.append([record(1, "a"), record(2, "b")], run: "run-2", under: lease)
        for bad in [[record(2, "again")], [record(4, "gap")], [record(3, "fine"), record(5, "gap")]] {
            do {
                try await records.append(bad, run: "run-2", under: lease)
                XCTFail("\(bad.map(\.seq)) must be refused")
            } catch let refusal as PostgresRunRecords.Refused {
                XCTAssertEqual(refusal, .outOfOrder(run: "run-2", seq: bad[0].seq))
            }
        }
        let kept = try await records.records(of: "run-2")
        XCTAssertEqual(kept.map(\.seq), [1, 2], "a refused append left nothing, not even its valid first record")
        for statement in ["UPDATE medic_run_records SET record = 'x' WHERE run_id = 'run-2'",
                          "DELETE FROM medic_run_records WHERE run_id = 'run-2' AND seq = 2", "TRUNCATE medic_run_records"] {
            do {
                try await databases[0].client.query(PostgresQuery(unsafeSQL: statement))
                XCTFail("records are append-only: \(statement)")
            } catch let error as PSQLError {
                XCTAssertEqual(error.serverInfo?[.sqlState], "MD003", statement)
            }
        }
        let still = try await records.records(of: "run-2")
        XCTAssertEqual(still.map(\.seq), [1, 2])
    }
}

/// `XCTUnwrap` for an expression already awaited.
func XCTUnwrapAsync<T>(_ value: T?, file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    try XCTUnwrap(value, file: file, line: line)
}
