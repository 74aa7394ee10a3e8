import Foundation
import Logging
import MedicServer
import NIOCore
import NIOPosix
import PostgresNIO

/// A connection pool to the shared state's database, running for as long as this value is kept
/// and not shut down. Every store of the database shares one.
public final class StateDatabase: Sendable {
    public let location: PostgresLocation
    /// The pool, each call answered within `statementDeadline` seconds or failed.
    public let client: StateClient
    public let logger: Logger
    private let running: Task<Void, Never>
    /// The connection of the stores whose protocols are synchronous (the knowledge base).
    let blocking: BlockingSession
    /// Lease releases under way, waited for by `shutdown`.
    let releases = LeaseReleases()

    /// Starts the pool (it connects on the first query). `connectTimeout`: how long one attempt
    /// to reach the server may take before the query waiting on it fails.
    /// `logger` defaults to one at warning level: the pool tells at info level of every
    /// connection it opens and closes.
    /// `statementDeadline`: how long a call may wait for its answer before it fails (the
    /// connection it waited for included; see `StateClient`).
    public init(_ location: PostgresLocation, logger: Logger? = nil, connectTimeout: Duration = .seconds(10), statementDeadline: Double = 30) {
        let logger = logger ?? {
            var logger = Logger(label: "medic.postgres")
            logger.logLevel = .warning
            return logger
        }()
        var configuration = location.configuration
        configuration.options.connectTimeout = connectTimeout
        // A Medic paused in the middle of a transaction (a long GC, SIGSTOP, a VM migration)
        // holds its row locks, among them the lease row its records' fencing check read: the
        // server ends such a session after 10 s, so a takeover waits that long at most, and
        // the paused Medic's transaction is rolled back (none of ours waits on its client).
        configuration.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "10000")]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.location = location
        self.client = StateClient(pool: client, deadline: statementDeadline)
        self.logger = logger
        blocking = BlockingSession(location, logger: logger, connectTimeout: connectTimeout)
        running = Task { await client.run() }
    }

    /// Throws a `PostgresFailure` saying why when the server cannot be reached within `seconds`
    /// (refused, no such host, no answer), before any statement is sent. The pool itself would
    /// keep retrying a server that refuses, so a command checks this first.
    public func reach(within seconds: Double) async throws {
        let timeout = TimeAmount.milliseconds(Int64(max(seconds, 0.001) * 1000))
        do {
            let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connectTimeout(timeout)
            let channel: any Channel
            if let socketFolder = location.socketFolder {
                channel = try await bootstrap.connect(unixDomainSocketPath: "\(socketFolder)/.s.PGSQL.\(location.port)").get()
            } else {
                channel = try await bootstrap.connect(host: location.host, port: location.port).get()
            }
            try? await channel.close()
        } catch {
            throw PostgresFailure("reaching the database", error, location: location)
        }
    }

    /// Throws unless the database answers `SELECT 1` within `seconds` (a pool still trying to
    /// reach a server that is down would otherwise keep the caller waiting).
    public func ping(within seconds: Double) async throws {
        let pool = client.pool, logger = logger
        do {
            try await answered(within: seconds) { try await pool.perform("SELECT 1", logger: logger) }
        } catch {
            throw PostgresFailure("reaching the database", error, location: location)
        }
    }

    /// Closes every connection once the leases being released are (for up to 5 s); no query
    /// runs after.
    public func shutdown() async {
        await releases.drain(within: 5)
        let blocking = blocking
        await Task.detached { blocking.close() }.value
        running.cancel()
        await running.value
    }
}

/// What the database answered when it refused a statement, said for people.
public struct PostgresFailure: Error, CustomStringConvertible {
    public let description: String
    /// The server's SQLSTATE, when the server answered.
    public let sqlState: String?

    init(_ doing: String, _ error: any Error, location: PostgresLocation) {
        if let error = error as? PSQLError {
            sqlState = error.serverInfo?[.sqlState]
            if let message = error.serverInfo?[.message] {
                description = "\(doing) on \(location): the database said: \(message) (SQLSTATE \(sqlState ?? "?"))"
            } else {
                description = "\(doing) on \(location): \(error.code)\(error.underlying.map { " (\($0))" } ?? "")"
            }
        } else {
            sqlState = nil
            description = "\(doing) on \(location): \(error)"
        }
    }
}

extension PostgresClient {
    /// `StateConnection.perform` on a pooled connection.
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }
}
