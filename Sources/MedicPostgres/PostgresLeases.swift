import Foundation
import Logging
import PostgresNIO

/// A lease on a name (a target, a run) held by one owner until it expires, with the fencing
/// token that every write made under it carries.
public struct Lease: Sendable, Equatable {
    public var name: String
    public var owner: String
    /// Grows with every grant of any lease (one database sequence): a later holder's token is
    /// always greater, so a write carrying an older one is known stale.
    public var token: Int64
    /// By the database's clock, the one clock every instance shares.
    public var expiresAt: Date
}

/// Leases in the database, taken over only once expired.
///
/// Guarantees:
/// - **One holder**: at any instant of the database's clock a name has at most one unexpired
///   lease; of any number of instances acquiring a free name at once, exactly one gets it.
/// - **Fencing**: each grant has a new token, greater than every earlier one; `renew` keeps it
///   only while the lease is still that token's (a lease taken over is not renewed back), and
///   the database rejects a run record carrying a token that is no longer its lease's
///   (`PostgresRunRecords`), however late the write arrives.
/// - **Times from one clock**: expiry is computed and compared by the database (`clock_timestamp()`), never
///   by an instance's own clock.
public struct PostgresLeases: Sendable {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    /// Grants `name` to `owner` for `seconds` unless another unexpired lease holds it (nil then).
    /// An expired lease, whoever held it, is taken over with a new token.
    public func acquire(_ name: String, owner: String, seconds: Double) async throws -> Lease? {
        try await one("acquiring the lease \(name)", """
            INSERT INTO medic_leases AS held (name, owner, token, acquired_at, expires_at)
            VALUES (\(name), \(owner), nextval('medic_fencing_tokens'), clock_timestamp(), clock_timestamp() + make_interval(secs => \(seconds)))
            ON CONFLICT (name) DO UPDATE
                SET owner = excluded.owner, token = nextval('medic_fencing_tokens'), acquired_at = clock_timestamp(), expires_at = clock_timestamp() + make_interval(secs => \(seconds))
                WHERE held.expires_at <= clock_timestamp()
            RETURNING name, owner, token, expires_at
            """)
    }

    /// Extends `lease` by `seconds` from now; nil when it is no longer this token's (expired and
    /// taken over, or released): its holder has lost it and must stop writing.
    public func renew(_ lease: Lease, seconds: Double) async throws -> Lease? {
        try await one("renewing the lease \(lease.name)", """
            UPDATE medic_leases SET expires_at = clock_timestamp() + make_interval(secs => \(seconds))
            WHERE name = \(lease.name) AND token = \(lease.token) AND expires_at > clock_timestamp()
            RETURNING name, owner, token, expires_at
            """)
    }

    /// Gives `lease` up (nothing when it is no longer this token's).
    public func release(_ lease: Lease) async throws {
        do {
            try await database.client.perform("DELETE FROM medic_leases WHERE name = \(lease.name) AND token = \(lease.token)",
                                             logger: database.logger)
        } catch {
            throw PostgresFailure("releasing the lease \(lease.name)", error, location: database.location)
        }
    }

    /// The unexpired lease on `name`, if any.
    public func holder(of name: String) async throws -> Lease? {
        try await one("reading the lease \(name)", """
            SELECT name, owner, token, expires_at FROM medic_leases WHERE name = \(name) AND expires_at > clock_timestamp()
            """)
    }

    private func one(_ doing: String, _ query: PostgresQuery) async throws -> Lease? {
        do {
            var lease: Lease?
            let rows = try await database.client.query(query, logger: database.logger)
            for try await (name, owner, token, expires) in rows.decode((String, String, Int64, Date).self) {
                lease = Lease(name: name, owner: owner, token: token, expiresAt: expires)
            }
            return lease
        } catch {
            throw PostgresFailure(doing, error, location: database.location)
        }
    }
}
