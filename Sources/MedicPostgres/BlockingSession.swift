import Foundation
import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// One connection to the database for stores whose protocols are synchronous (the knowledge
/// base's): each call blocks its thread until the database answered, one call at a time.
///
/// Contract: the connection runs on NIO's event loops and never needs a thread of Swift
/// concurrency to make progress (unlike the pool, whose `run()` is a task), so a task blocked
/// here cannot starve the work it waits for. It must not be called from an event loop thread.
/// A connection that failed is dropped and opened again by the next call; a server that cannot be
/// reached fails a call within the connect timeout, and a statement is ended by the server after
/// 30 s (`statement_timeout`), so no call hangs.
final class BlockingSession: @unchecked Sendable {
    private let location: PostgresLocation
    private let logger: Logger
    private let connectTimeout: TimeAmount
    private let lock = NSLock()
    private var connection: PostgresConnection?
    private var opened = 0
    private var closed = false

    init(_ location: PostgresLocation, logger: Logger, connectTimeout: Duration) {
        self.location = location
        self.logger = logger
        let (seconds, attoseconds) = connectTimeout.components
        self.connectTimeout = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    /// Runs `body` with the connection, alone; a failure that closed the connection drops it.
    func with<T>(_ body: (Connection) throws -> T) throws -> T {
        try lock.withLock {
            guard !closed else { throw PostgresFailure("using the database", Closed(), location: location) }
            let current: PostgresConnection
            if let connection, !connection.isClosed {
                current = connection
            } else {
                current = try open()
                connection = current
            }
            do {
                return try body(Connection(connection: current, logger: logger))
            } catch {
                if current.isClosed { connection = nil }
                throw error
            }
        }
    }

    /// Closes the connection; every later call fails.
    func close() {
        let current = lock.withLock {
            closed = true
            defer { connection = nil }
            return connection
        }
        _ = try? current?.close().wait()
    }

    private func open() throws -> PostgresConnection {
        var configuration: PostgresConnection.Configuration
        if let socketFolder = location.socketFolder {
            configuration = .init(unixSocketPath: "\(socketFolder)/.s.PGSQL.\(location.port)", username: location.user,
                                  password: location.password, database: location.database)
        } else {
            var unchecked = TLSConfiguration.makeClientConfiguration()
            unchecked.certificateVerification = .none
            let tls: PostgresConnection.Configuration.TLS
            do {
                switch location.tls {
                case .disable: tls = .disable
                case .prefer: tls = .prefer(try NIOSSLContext(configuration: unchecked))
                case .require: tls = .require(try NIOSSLContext(configuration: unchecked))
                case .verifyFull: tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
                }
            } catch {
                throw PostgresFailure("preparing TLS for the database", error, location: location)
            }
            configuration = .init(host: location.host, port: location.port, username: location.user, password: location.password,
                                  database: location.database, tls: tls)
        }
        configuration.options.connectTimeout = connectTimeout
        configuration.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "10000"),
                                                             ("statement_timeout", "30000")]
        opened += 1
        do {
            return try PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                  id: opened, logger: logger).wait()
        } catch {
            throw PostgresFailure("connecting to the database", error, location: location)
        }
    }

    /// The connection as a `with` body uses it.
    struct Connection {
        let connection: PostgresConnection
        let logger: Logger

        /// Every row of `query`.
        func rows(_ query: PostgresQuery) throws -> [PostgresRow] {
            try connection.query(query, logger: logger).wait().rows
        }

        /// `body` in a transaction: committed when it returns, rolled back when it throws.
        func transaction<T>(_ body: () throws -> T) throws -> T {
            _ = try rows("BEGIN")
            let result: T
            do {
                result = try body()
            } catch {
                _ = try? rows("ROLLBACK")
                throw error
            }
            _ = try rows("COMMIT")
            return result
        }
    }

    struct Closed: Error, CustomStringConvertible {
        var description: String { "the connection was closed (Medic is stopping)" }
    }
}
