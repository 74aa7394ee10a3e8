import Foundation
import MedicEngine
import MedicKnowledge

#if canImport(Glibc)
import Glibc
#endif

extension StateStores {
    /// The stores of several Medics sharing the database: runs, target locks, switches, the
    /// audit log, the knowledge base and the immune memory in `database`, leased to `owner` (this
    /// instance) for `leaseSeconds` and renewed while held. The bus's outbox stays where `local`
    /// keeps it (this instance's state directory).
    public static func postgres(_ database: StateDatabase, owner: String, leaseSeconds: Double = 30, clock: any EngineClock = SystemClock(),
                                local: StateStores) -> StateStores {
        let runs = PostgresRunStore(database, owner: owner, leaseSeconds: leaseSeconds, clock: clock)
        let state = runs.state
        return StateStores(runs: runs,
                    locks: PostgresTargetLocks(database, owner: owner, leaseSeconds: leaseSeconds) { runID in
                        let generation = state.generation(of: runID)
                        return { target in state.lost(target, of: runID, generation: generation) }
                    },
                    flags: PostgresFlags(database), audit: PostgresAuditLog(database),
                    // The knowledge base stays in the state directory for now: with its stores
                    // in the database, a server did not resume a run that a database outage cut
                    // short (docs/high-availability.md, "The knowledge base is per server").
                    knowledge: local.knowledge,
                    outbox: local.outbox)
    }
}

extension PostgresAuditLog: AuditLog {}

/// Target locks as leases of the database (`PostgresTargetLeases`), renewed while the run holds
/// them and given up when its `TargetLease` is dropped.
public struct PostgresTargetLocks: TargetLocking {
    public let leases: PostgresTargetLeases
    public let owner: String
    public let leaseSeconds: Double
    /// Asked, when a run takes its targets, for whom to tell the target whose lease that run
    /// then loses: that claim of the run must stop writing.
    let lost: @Sendable (_ runID: String) -> @Sendable (_ target: String) -> Void

    public init(_ database: StateDatabase, owner: String, leaseSeconds: Double = 30,
                lost: @escaping @Sendable (_ runID: String) -> @Sendable (_ target: String) -> Void = { _ in { _ in } }) {
        leases = PostgresTargetLeases(database)
        self.owner = owner
        self.leaseSeconds = leaseSeconds
        self.lost = lost
    }

    /// A database that cannot be read names an unknown holder for every target: the gate refuses
    /// rather than call a target free.
    public func holders(of names: [String]) async -> [(name: String, holder: TargetLocks.Holder?)] {
        do {
            return try await leases.holders(of: names)
        } catch {
            return names.map { ($0, TargetLocks.Holder(run: "unknown (the database could not be read: \(error))", pid: 0, host: "?", since: "?")) }
        }
    }

    public func acquire(_ names: [String], run: String, wait: Double, now: Date) async throws -> TargetLease {
        let holder = TargetLocks.Holder(run: run, pid: getpid(), host: ProcessInfo.processInfo.hostName, since: JournalRecord.timestamp(now))
        let taken: [Lease]?
        do {
            taken = try await leases.acquire(names, holder: holder, owner: owner, seconds: leaseSeconds, wait: wait)
        } catch {
            throw JournalError("\(error)")
        }
        guard let taken else {
            let held = await holders(of: names).first { $0.holder != nil }
            let who = held?.holder.map { "run \($0.run) (pid \($0.pid) on \($0.host), since \($0.since))" } ?? "another run"
            throw JournalError("target \(held?.name ?? names.joined(separator: ", ")) is being remediated by \(who)")
        }
        let lost = lost(run)
        let keeper = LeaseKeeper(taken, leases: leases, seconds: leaseSeconds) { lease in
            lost(String(lease.name.dropFirst("target:".count)))
        }
        return TargetLease(names: names) { keeper.stop() }
    }
}

/// Renews a set of leases every third of their term until stopped, then gives them up.
final class LeaseKeeper: Sendable {
    private let heartbeat: Task<Void, Never>
    private let release: @Sendable () async -> Void

    /// `lost`: told of a lease found expired or taken over at a renewal (renewing then stops).
    init(_ taken: [Lease], leases: PostgresTargetLeases, seconds: Double, lost: @escaping @Sendable (Lease) -> Void) {
        let held = LeaseSet(taken)
        heartbeat = Task {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(max(seconds / 3, 0.05) * 1e9))
                if Task.isCancelled { return }
                guard let (renewed, gone) = try? await leases.renew(held.leases, seconds: seconds) else { continue }
                held.replace(renewed)
                if let first = gone.first {
                    lost(first)
                    return
                }
            }
        }
        release = { try? await leases.release(held.leases) }
        releases = leases.database.releases
    }

    private let releases: LeaseReleases

    /// Stops renewing and gives the leases up; a database shut down gracefully waits for that.
    func stop() {
        heartbeat.cancel()
        let (heartbeat, release) = (heartbeat, release)
        releases.start {
            await heartbeat.value
            await release()
        }
    }
}

/// Leases as last renewed.
final class LeaseSet: @unchecked Sendable {
    private let lock = NSLock()
    private var held: [Lease]
    init(_ leases: [Lease]) { held = leases }
    var leases: [Lease] { lock.withLock { held } }
    func replace(_ leases: [Lease]) { lock.withLock { held = leases } }
}

/// The switches and the breakers' resets in the database, each change with its audit record in
/// one transaction.
public struct PostgresFlags: OperatorFlags {
    public let switches: PostgresOperatorSwitches
    public let resets: PostgresBreakerResets

    public init(_ database: StateDatabase) {
        switches = PostgresOperatorSwitches(database)
        resets = PostgresBreakerResets(database)
    }

    /// Fails closed: a switch that cannot be read counts as on.
    public func setting(_ flag: OperatorFlag) async -> OperatorSwitch.Setting? {
        do {
            return try await switches.setting(flag)
        } catch {
            return OperatorSwitch.Setting(by: "unknown", reason: "the switch could not be read, so it counts as on: \(error)", at: "?")
        }
    }

    public func turnOn(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws {
        do { try await switches.turnOn(flag, by: by, reason: reason, now: now) } catch { throw JournalError("\(error)") }
    }

    public func turnOff(_ flag: OperatorFlag, by: String, reason: String?, now: Date) async throws -> Bool {
        do { return try await switches.turnOff(flag, by: by, reason: reason, now: now) } catch { throw JournalError("\(error)") }
    }

    /// Resets that cannot be read count as none: a breaker then judges from every run, which
    /// can only keep it open longer.
    public func breakerResets() async -> [String: RemediationBreaker.Reset] { (try? await resets.resets()) ?? [:] }

    public func resetBreaker(_ playbookID: String, by: String, reason: String?, now: Date) async throws {
        do { try await resets.reset(playbookID, by: by, reason: reason, now: now) } catch { throw JournalError("\(error)") }
    }
}

/// One server of those sharing the database evaluates the anomaly rules: the holder of the lease
/// `rules:leader`, renewed at each round; when it dies or pauses past the lease, another takes
/// the lease and the rules over (their `for` windows start afresh there).
public final class PostgresRulesLeadership: @unchecked Sendable {
    private let leases: PostgresLeases
    private let owner: String
    private let seconds: Double
    private let lock = NSLock()
    private var held: Lease?

    public static let leaseName = "rules:leader"

    /// `seconds` should be a few rounds long: the leader renews once a round.
    public init(_ database: StateDatabase, owner: String, seconds: Double) {
        leases = PostgresLeases(database)
        self.owner = owner
        self.seconds = seconds
    }

    /// Whether this server leads now (renewing or taking the lease); false when the database
    /// cannot be reached (no round is evaluated on a lease that cannot be confirmed).
    public func lead() async -> Bool {
        let current = lock.withLock { held }
        var now: Lease?
        if let current { now = try? await leases.renew(current, seconds: seconds) }
        if now == nil { now = try? await leases.acquire(Self.leaseName, owner: owner, seconds: seconds) }
        lock.withLock { held = now }
        return now != nil
    }
}
