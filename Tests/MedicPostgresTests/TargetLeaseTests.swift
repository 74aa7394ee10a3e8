import Foundation
import MedicEngine
import MedicPostgres
import XCTest

/// Target leases, breaker resets and escalation claims on a real PostgreSQL, several instances.
final class TargetLeaseTests: PostgresTestCase {
    private static func holder(_ run: String) -> TargetLocks.Holder {
        TargetLocks.Holder(run: run, pid: 42, host: "host-\(run)", since: "2026-12-06T09:00:00Z")
    }

    /// Eight instances take overlapping pairs of targets, named in different orders: a pair is
    /// had whole by one run or not at all, never split between two.
    func testTargetsAreTakenAllOrNoneByOneRun() async throws {
        let databases = try await databases(8)
        let outcome = try await withThrowingTaskGroup(of: [(Int, [Lease]?)].self) { group in
            for (number, database) in databases.enumerated() {
                group.addTask {
                    let targets = PostgresTargetLeases(database)
                    var results: [(Int, [Lease]?)] = []
                    for trial in 0..<100 {
                        let names = ["t\(trial)-db", "t\(trial)-web", "t\(trial)-cache"].shuffled().prefix(2 + number % 2)
                        results.append((trial, try await targets.acquire(Array(names), holder: Self.holder("run-\(number)"),
                                                                          owner: "instance-\(number)", seconds: 600)))
                    }
                    return results
                }
            }
            return try await group.reduce(into: [(Int, [Lease]?)]()) { $0 += $1 }
        }
        for trial in 0..<100 {
            let granted = outcome.filter { $0.0 == trial }.compactMap(\.1)
            XCTAssertGreaterThanOrEqual(granted.count, 1, "trial \(trial): someone got its targets")
            var owners: [String: String] = [:]
            for leases in granted {
                XCTAssertEqual(Set(leases.map(\.owner)).count, 1)
                for lease in leases {
                    XCTAssertNil(owners[lease.name], "trial \(trial): \(lease.name) granted twice")
                    owners[lease.name] = lease.owner
                }
            }
            let names = ["t\(trial)-db", "t\(trial)-web", "t\(trial)-cache"]
            let holders = try await PostgresTargetLeases(databases[0]).holders(of: names)
            for (name, holder) in holders where owners[PostgresTargetLeases.leaseName(name)] != nil {
                XCTAssertEqual(holder.map { "instance-\($0.run.dropFirst(4))" }, owners[PostgresTargetLeases.leaseName(name)], name)
            }
        }
    }

    func testAWaitingRunGetsTheTargetsOnceTheyAreReleased() async throws {
        let databases = try await databases(2)
        let first = PostgresTargetLeases(databases[0]), second = PostgresTargetLeases(databases[1])
        let held = try await XCTUnwrapAsync(try await first.acquire(["web-01", "db-01"], holder: Self.holder("a"), owner: "i1", seconds: 600))
        let refused = try await second.acquire(["db-01"], holder: Self.holder("b"), owner: "i2", seconds: 600, wait: 0)
        XCTAssertNil(refused)
        let runB = Self.holder("b")
        let waiting = Task { [second, runB] in try await second.acquire(["db-01"], holder: runB, owner: "i2", seconds: 600, wait: 60) }
        try await first.release(held)
        let got = try await waiting.value
        XCTAssertEqual(got?.map(\.name), ["target:db-01"], "a target's lease is named apart from the runs' leases")
        let holders = try await first.holders(of: ["db-01", "web-01"])
        XCTAssertEqual(holders.map(\.holder?.run), ["b", nil])
    }

    func testBreakerResetsAreAudited() async throws {
        let databases = try await databases(2)
        try await PostgresBreakerResets(databases[0]).reset("restart-web-001", by: "carol", reason: "fixed upstream",
                                                            now: Date(timeIntervalSince1970: 1_765_000_000))
        let resets = try await PostgresBreakerResets(databases[1]).resets()
        XCTAssertEqual(resets["restart-web-001"]?.by, "carol")
        let audit = try await PostgresAuditLog(databases[1]).records()
        XCTAssertEqual(audit.last?["event"], "breaker_reset")
        XCTAssertEqual(audit.last?["playbook"], "restart-web-001")
    }

    /// One instance claims a due level; a claim whose instance died (never marked sent) is taken
    /// again once it expires; a level marked sent is never claimed again.
    func testEachEscalationLevelIsSentByOneInstance() async throws {
        let databases = try await databases(4)
        let claims = try await withThrowingTaskGroup(of: Bool.self) { group in
            for (number, database) in databases.enumerated() {
                group.addTask { try await PostgresEscalationClaims(database).claim(incident: "inc-1", level: 1, instance: "i\(number)", seconds: 0.3) }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        XCTAssertEqual(claims.filter { $0 }.count, 1)
        let store = PostgresEscalationClaims(databases[0])
        // Nobody marks it sent (its instance "died"): after the claim expires another takes it.
        var retaken = false
        let giveUp = Date().addingTimeInterval(30)
        while !retaken, Date() < giveUp {
            retaken = try await store.claim(incident: "inc-1", level: 1, instance: "survivor", seconds: 60)
            if !retaken { try await Task.sleep(nanoseconds: 50_000_000) }
        }
        XCTAssertTrue(retaken)
        for number in 0..<4 {
            let late = try await store.markSent(incident: "inc-1", level: 1, instance: "i\(number)")
            XCTAssertFalse(late, "the dead instance's claim is no longer its own")
        }
        let marked = try await store.markSent(incident: "inc-1", level: 1, instance: "survivor")
        XCTAssertTrue(marked)
        let again = try await store.claim(incident: "inc-1", level: 1, instance: "i0", seconds: 60)
        XCTAssertFalse(again, "a level sent is never sent again")
        let sent = try await store.sent(incident: "inc-1")
        XCTAssertEqual(sent, [1])
    }
}
