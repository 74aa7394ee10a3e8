import Foundation
import Logging
import MedicEngine
import PostgresNIO

/// Target locks as leases in the database: the targets of a run are taken all or none, in one
/// order for everyone, by the run's instance, and held while it renews them.
///
/// Guarantees:
/// - **All or none**: `acquire` takes every name in one transaction; if one is held (unexpired)
///   the transaction is rolled back and nothing is taken. It tries again until `wait` seconds
///   have passed.
/// - **One holder per name** and **fencing**, as `PostgresLeases` (each name its own token).
/// - **No circular wait**: names are taken in sorted order.
public struct PostgresTargetLeases: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    /// A target's lease name: `target:` and the target, apart from the runs' leases (`run:<id>`),
    /// so that no target name can stand for a run's lease.
    public static func leaseName(_ target: String) -> String { "target:" + target }

    /// The leases of `names` for `holder`'s run, for `seconds` (named `leaseName(target)`); nil
    /// when one stayed held for `wait` seconds.
    public func acquire(_ names: [String], holder: TargetLocks.Holder, owner: String, seconds: Double, wait: Double = 0) async throws -> [Lease]? {
        let sorted = Array(Set(names)).sorted().map(Self.leaseName)
        let holderJSON = String(decoding: try JSONEncoder().encode(holder), as: UTF8.self)
        let giveUp = ContinuousClock.now + .milliseconds(Int64(max(wait, 0) * 1000))
        var pause: UInt64 = 20_000_000
        while true {
            if let leases = try await attempt(sorted, holder: holderJSON, owner: owner, seconds: seconds) { return leases }
            if ContinuousClock.now >= giveUp { return nil }
            try await Task.sleep(nanoseconds: pause)
            pause = min(pause * 2, 500_000_000)
        }
    }

    private struct Held: Error {}

    private func attempt(_ names: [String], holder: String, owner: String, seconds: Double) async throws -> [Lease]? {
        let logger = database.logger
        do {
            return try await database.client.withTransaction(logger: logger) { connection in
                var leases: [Lease] = []
                for name in names {
                    var taken: Lease?
                    let rows = try await connection.query("""
                        INSERT INTO medic_leases AS held (name, owner, token, acquired_at, expires_at, holder)
                        VALUES (\(name), \(owner), nextval('medic_fencing_tokens'), clock_timestamp(), clock_timestamp() + make_interval(secs => \(seconds)), \(holder))
                        ON CONFLICT (name) DO UPDATE
                            SET owner = excluded.owner, token = nextval('medic_fencing_tokens'), acquired_at = clock_timestamp(),
                                expires_at = clock_timestamp() + make_interval(secs => \(seconds)), holder = excluded.holder
                            WHERE held.expires_at <= clock_timestamp()
                        RETURNING name, owner, token, expires_at
                        """, logger: logger)
                    for try await (name, owner, token, expires) in rows.decode((String, String, Int64, Date).self) {
                        taken = Lease(name: name, owner: owner, token: token, expiresAt: expires)
                    }
                    guard let taken else { throw Held() }
                    leases.append(taken)
                }
                return leases
            }
        } catch {
            if error is Held { return nil }
            throw PostgresFailure("taking the targets \(names.joined(separator: ", "))", error, location: database.location)
        }
    }

    /// Who holds each of `names` now (nil: free or expired); takes nothing.
    public func holders(of names: [String]) async throws -> [(name: String, holder: TargetLocks.Holder?)] {
        do {
            var found: [String: TargetLocks.Holder] = [:]
            let leases = names.map(Self.leaseName)
            let rows = try await database.client.query(
                "SELECT name, holder FROM medic_leases WHERE name = ANY(\(leases)::text[]) AND expires_at > clock_timestamp() AND holder IS NOT NULL",
                logger: database.logger)
            for try await (name, holder) in rows.decode((String, String).self) {
                found[name] = try JSONDecoder().decode(TargetLocks.Holder.self, from: Data(holder.utf8))
            }
            return names.map { ($0, found[Self.leaseName($0)]) }
        } catch {
            throw PostgresFailure("reading the targets' holders", error, location: database.location)
        }
    }

    /// Renews every lease of a run; the ones lost (taken over after expiring) come back in `lost`.
    public func renew(_ leases: [Lease], seconds: Double) async throws -> (renewed: [Lease], lost: [Lease]) {
        let plain = PostgresLeases(database)
        var renewed: [Lease] = [], lost: [Lease] = []
        for lease in leases {
            if let fresh = try await plain.renew(lease, seconds: seconds) { renewed.append(fresh) } else { lost.append(lease) }
        }
        return (renewed, lost)
    }

    public func release(_ leases: [Lease]) async throws {
        let plain = PostgresLeases(database)
        for lease in leases { try await plain.release(lease) }
    }
}

/// The breakers' manual resets (`medic breaker reset`), each with its audit record in one transaction.
public struct PostgresBreakerResets: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public func resets() async throws -> [String: RemediationBreaker.Reset] {
        do {
            var found: [String: RemediationBreaker.Reset] = [:]
            let rows = try await database.client.query("SELECT playbook, set_by, reason, set_at FROM medic_breaker_resets", logger: database.logger)
            for try await (playbook, by, reason, at) in rows.decode((String, String, String?, String).self) {
                var fields = ["by": by, "at": at]
                fields["reason"] = reason
                found[playbook] = try JSONDecoder().decode(RemediationBreaker.Reset.self, from: try JSONSerialization.data(withJSONObject: fields))
            }
            return found
        } catch {
            throw PostgresFailure("reading the breakers' resets", error, location: database.location)
        }
    }

    public func reset(_ playbook: String, by: String, reason: String?, now: Date) async throws {
        let at = JournalRecord.timestamp(now)
        let audit = try PostgresAuditLog.json(["event": "breaker_reset", "playbook": playbook, "by": by, "reason": reason ?? "", "at": at])
        let logger = database.logger
        do {
            try await database.client.withTransaction(logger: logger) { connection in
                try await connection.perform("""
                    INSERT INTO medic_breaker_resets (playbook, set_by, reason, set_at) VALUES (\(playbook), \(by), \(reason), \(at))
                    ON CONFLICT (playbook) DO UPDATE SET set_by = excluded.set_by, reason = excluded.reason, set_at = excluded.set_at
                    """, logger: logger)
                try await connection.perform("INSERT INTO medic_audit (fields) VALUES (\(audit)::jsonb)", logger: logger)
            }
        } catch {
            throw PostgresFailure("resetting the breaker of \(playbook)", error, location: database.location)
        }
    }
}

/// Escalation levels claimed by one instance each: a due level is sent by the instance that
/// claims it; a claim not marked sent before it expires (its instance died) may be claimed again,
/// so a level is neither skipped nor, once marked sent, repeated.
public struct PostgresEscalationClaims: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    /// True when `instance` now holds the level for `seconds` (to send it), false when it was
    /// sent, or another instance holds an unexpired claim.
    public func claim(incident: String, level: Int, instance: String, seconds: Double) async throws -> Bool {
        do {
            var claimed = false
            let rows = try await database.client.query("""
                INSERT INTO medic_escalation_claims AS held (incident, level, claimed_by, claimed_until)
                VALUES (\(incident), \(level), \(instance), clock_timestamp() + make_interval(secs => \(seconds)))
                ON CONFLICT (incident, level) DO UPDATE SET claimed_by = excluded.claimed_by, claimed_until = clock_timestamp() + make_interval(secs => \(seconds))
                    WHERE held.sent_at IS NULL AND (held.claimed_until <= clock_timestamp() OR held.claimed_by = excluded.claimed_by)
                RETURNING level
                """, logger: database.logger)
            for try await _ in rows.decode(Int.self) { claimed = true }
            return claimed
        } catch {
            throw PostgresFailure("claiming level \(level) of \(incident)", error, location: database.location)
        }
    }

    /// Marks the level sent by its claimant; false when the claim was no longer `instance`'s.
    public func markSent(incident: String, level: Int, instance: String) async throws -> Bool {
        do {
            var marked = false
            let rows = try await database.client.query("""
                UPDATE medic_escalation_claims SET sent_at = clock_timestamp()
                WHERE incident = \(incident) AND level = \(level) AND claimed_by = \(instance) AND sent_at IS NULL
                RETURNING level
                """, logger: database.logger)
            for try await _ in rows.decode(Int.self) { marked = true }
            return marked
        } catch {
            throw PostgresFailure("marking level \(level) of \(incident) sent", error, location: database.location)
        }
    }

    /// The levels of `incident` marked sent, in order.
    public func sent(incident: String) async throws -> [Int] {
        do {
            var levels: [Int] = []
            let rows = try await database.client.query(
                "SELECT level FROM medic_escalation_claims WHERE incident = \(incident) AND sent_at IS NOT NULL ORDER BY level",
                logger: database.logger)
            for try await (level) in rows.decode(Int.self) { levels.append(level) }
            return levels
        } catch {
            throw PostgresFailure("reading the levels sent for \(incident)", error, location: database.location)
        }
    }
}
