import Foundation
import Logging
import MedicServer
import PostgresNIO

/// The pool as the stores use it: no call waits for the database longer than `deadline`.
///
/// Why: a call made while the server is away waits in the pool for a connection, and some of
/// those waits were never answered, even after the server came back (a run's task then awaited
/// its record for ever, so it was neither finished nor stopped, and no server could take it
/// over). A statement sent on a connection that had just closed was never answered either (the
/// driver drops a request written to a closed connection without failing it). So:
/// - `withTransaction` and `withConnection` wait at most `deadline` for their connection, then
///   fail; a connection that arrives after that is handed straight back, and nothing of the
///   call ever runs late. The body runs in the caller's task, its statements on a
///   `StateConnection`: each fails as soon as the connection closes before answering it, or
///   when no answer came within `deadline` (the connection is then closed, so the server rolls
///   back what the statement began, and it goes back to the pool only once closed). The server
///   answers a statement when it has run it (its first rows come with its end unless they fill
///   the server's buffer), so the deadline bounds a statement's lock waits too: a caller whose
///   statements may run longer asks for more (`statementDeadline`). The transaction's `BEGIN`,
///   `COMMIT` and `ROLLBACK` are such statements too.
/// - A statement abandoned so (late, or its connection lost) leaves a task waiting on the
///   driver for an answer that never comes: one per statement lost, not per statement.
/// - Rows read after the answer (a result larger than the server's buffer) wait for the
///   connection itself: one whose server vanished without closing it (a host lost, not a
///   server stopped) fails only when TCP gives up.
/// - `query` and `perform` fail when the server has not started answering within `deadline`.
///   Such a statement is left to the pool and may still be carried out later (a write whose
///   caller was told it failed): a statement that must not land late goes through
///   `withConnection` or `withTransaction` instead (a run's records, an immune event).
/// - A caller whose task is cancelled stops waiting for its connection at once (a shutdown
///   during an outage does not wait out the deadline).
/// - A `COMMIT` whose answer is lost leaves its outcome unknown, as with any database: the
///   caller is told it failed, and what it wrote may have landed (a run's record is then read
///   by whoever takes the run over; the resume rules treat its step as in flight).
public struct StateClient: Sendable {
    /// The pool itself (its own calls wait as long as it lets them).
    public let pool: PostgresClient
    /// Seconds a call may wait for a connection (`withTransaction`, `withConnection`) or for the
    /// server's first answer (`query`, `perform`).
    public let deadline: Double

    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger? = nil) async throws -> PostgresRowSequence {
        let pool = pool
        return try await answered(within: deadline) { try await pool.query(query, logger: logger) }
    }

    /// A statement whose rows (if any) are not wanted, read to the end (`StateConnection.perform`).
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        let pool = pool
        try await answered(within: deadline) { for try await _ in try await pool.query(query, logger: logger) {} }
    }

    /// `body` in a transaction on a connection of the pool: committed when `body` returns,
    /// rolled back when it throws (a connection whose rollback fails is closed, never reused
    /// with the transaction open). `statementDeadline`: as in `withConnection`.
    public func withTransaction<Result: Sendable>(logger: Logger, statementDeadline: Double? = nil,
                                                  _ body: (StateConnection) async throws -> Result) async throws -> Result {
        try await withConnection(statementDeadline: statementDeadline) { connection in
            try await connection.perform("BEGIN", logger: logger)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                do { try await connection.perform("ROLLBACK", logger: logger) } catch { connection.close() }
                throw error
            }
            try await connection.perform("COMMIT", logger: logger)
            return result
        }
    }

    /// `body` on a connection of the pool, waited for at most `deadline`. `statementDeadline`:
    /// the seconds each of its statements may take to be answered (nil: `deadline`), lock waits
    /// included; a long one (a migration, a prune) asks for more.
    public func withConnection<Result: Sendable>(statementDeadline: Double? = nil,
                                                 _ body: (StateConnection) async throws -> Result) async throws -> Result {
        let handoff = ConnectionHandoff()
        let pool = pool
        let holder = Task {
            do {
                try await pool.withConnection { connection in
                    // Abandoned (the caller gave up): back to the pool at once, unused.
                    guard handoff.offer(connection) else { return }
                    await handoff.returned()
                }
            } catch {
                handoff.fail(error)
            }
        }
        let connection: PostgresConnection
        do {
            connection = try await handoff.connection(within: deadline)
        } catch {
            holder.cancel()
            throw error
        }
        let lent = StateConnection(connection, deadline: statementDeadline ?? deadline)
        // A connection given up on goes back to the pool only once it has closed: the pool must
        // not lend it to another call in the meantime.
        do {
            let result = try await body(lent)
            await lent.closedIfGivenUp()
            handoff.giveBack()
            return result
        } catch {
            await lent.closedIfGivenUp()
            handoff.giveBack()
            throw error
        }
    }
}

/// A connection of the pool lent to one call, whose statements never wait for an answer that
/// cannot come.
public struct StateConnection: Sendable {
    public let underlying: PostgresConnection
    /// Seconds a statement may wait for the server's answer (which comes when it has run,
    /// unless its rows fill the server's buffer first).
    public let deadline: Double
    /// Set when a statement gave up on the connection (`close()`), before it has closed.
    private let givenUp = GivenUp()

    init(_ underlying: PostgresConnection, deadline: Double) {
        self.underlying = underlying
        self.deadline = deadline
    }

    /// Whether the connection has closed or is closing (the server went away, or a statement
    /// gave up on it): nothing more is sent on it.
    public var isClosed: Bool { givenUp.isSet || underlying.isClosed }

    /// Sends `query`; its rows. Throws `ConnectionLost` as soon as the connection closes before
    /// the server answered, and `Late` (closing the connection) when no answer came within
    /// `deadline`. Once rows come, a connection that closes fails their sequence.
    @discardableResult
    public func query(_ query: PostgresQuery, logger: Logger) async throws -> PostgresRowSequence {
        let connection = underlying
        // Closed already, or given up on (a statement before it saw it go, or went late): not
        // sent at all (the driver would drop it unanswered).
        if isClosed { throw ConnectionLost() }
        do {
            return try await answered(within: deadline, unless: { connection.isClosed ? ConnectionLost() : nil }) {
                try await connection.query(query, logger: logger)
            }
        } catch let late as Late {
            close()
            throw late
        }
    }

    /// A statement whose rows (if any) are not wanted, read to the end: an error the server
    /// reports while executing it (a lock timeout, a trigger's refusal) is thrown here, not left
    /// in an unread row stream for the next statement to trip over ("current transaction is
    /// aborted").
    public func perform(_ query: PostgresQuery, logger: Logger) async throws {
        for try await _ in try await self.query(query, logger: logger) {}
    }

    /// Closes the connection without waiting: the server ends its session (rolling back what it
    /// had begun), and the pool drops it when it comes back.
    func close() {
        givenUp.set()
        underlying.close().whenComplete { _ in }
    }

    /// Waits for the connection to have closed when it was given up on or lost.
    func closedIfGivenUp() async {
        guard isClosed else { return }
        _ = try? await underlying.closeFuture.get()
    }

    final class GivenUp: @unchecked Sendable {  // `value` only under `lock`
        private let lock = NSLock()
        private var value = false
        var isSet: Bool { lock.withLock { value } }
        func set() { lock.withLock { value = true } }
    }
}

/// The connection closed before the server answered the statement sent on it.
public struct ConnectionLost: Error, CustomStringConvertible {
    public var description: String { "the connection to the database closed before it answered" }
}

/// A pooled connection passed from the task that leased it to the caller that waits for it, and
/// back; or abandoned by a caller that stopped waiting.
final class ConnectionHandoff: @unchecked Sendable {  // all state under `lock`
    private enum State {
        case waiting(CheckedContinuation<PostgresConnection, any Error>?)
        case handed
        case failed(any Error)
        /// The caller gave up (its deadline passed, or its task was cancelled): why.
        case abandoned(any Error)
        case given(PostgresConnection)
    }

    private let lock = NSLock()
    private var state = State.waiting(nil)
    private var back: CheckedContinuation<Void, Never>?
    private var isBack = false

    /// The leasing task offers the connection: false when the caller gave up (it is not used).
    func offer(_ connection: PostgresConnection) -> Bool {
        let (accepted, waiter): (Bool, CheckedContinuation<PostgresConnection, any Error>?) = lock.withLock {
            switch state {
            case .waiting(let waiter):
                if let waiter {
                    state = .handed
                    return (true, waiter)
                }
                state = .given(connection)
                return (true, nil)
            default:
                return (false, nil)
            }
        }
        waiter?.resume(returning: connection)
        return accepted
    }

    /// The pool could not lease one.
    func fail(_ error: any Error) {
        let waiter: CheckedContinuation<PostgresConnection, any Error>? = lock.withLock {
            guard case .waiting(let waiter) = state else { return nil }
            state = .failed(error)
            return waiter
        }
        waiter?.resume(throwing: error)
    }

    /// Waits for the connection at most `seconds`, and not past the caller's cancellation;
    /// after either the handoff is abandoned.
    func connection(within seconds: Double) async throws -> PostgresConnection {
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(seconds, 0.001) * 1e9))
            self.abandon(Late(seconds: seconds))
        }
        defer { timer.cancel() }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let ready: Swift.Result<PostgresConnection, any Error>? = lock.withLock {
                    switch state {
                    case .given(let connection):
                        state = .handed
                        return .success(connection)
                    case .failed(let error), .abandoned(let error): return .failure(error)
                    case .waiting:
                        state = .waiting(continuation)
                        return nil
                    case .handed: return .failure(Late(seconds: seconds))  // one caller per handoff: never met
                    }
                }
                if let ready { continuation.resume(with: ready) }
            }
        } onCancel: {
            self.abandon(CancellationError())
        }
    }

    private func abandon(_ reason: any Error) {
        let waiter: CheckedContinuation<PostgresConnection, any Error>? = lock.withLock {
            guard case .waiting(let waiter) = state else { return nil }
            state = .abandoned(reason)
            return waiter
        }
        waiter?.resume(throwing: reason)
    }

    /// The caller is done with the connection.
    func giveBack() {
        let waiter: CheckedContinuation<Void, Never>? = lock.withLock {
            isBack = true
            defer { back = nil }
            return back
        }
        waiter?.resume()
    }

    /// The leasing task waits here until the caller is done.
    func returned() async {
        await withCheckedContinuation { continuation in
            let done: Bool = lock.withLock {
                if isBack { return true }
                back = continuation
                return false
            }
            if done { continuation.resume() }
        }
    }
}
