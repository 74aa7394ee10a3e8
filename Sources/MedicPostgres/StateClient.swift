import Foundation
import Logging
import MedicServer
import PostgresNIO

/// The pool as the stores use it: no call waits for the database longer than `deadline`.
///
/// Why: a call made while the server is away waits in the pool for a connection, and some of
/// those waits were never answered, even after the server came back (a run's task then awaited
/// its record for ever, so it was neither finished nor stopped, and no server could take it
/// over). So:
/// - `withTransaction` and `withConnection` wait at most `deadline` for their connection, then
///   fail; a connection that arrives after that is handed straight back, and nothing of the
///   call ever runs late. The body runs in the caller's task on a connection already open
///   (one that breaks fails the call).
/// - `query` and `perform` fail when the server has not started answering within `deadline`.
///   Such a statement is left to the pool and may still be carried out later (a write whose
///   caller was told it failed): a statement that must not land late goes through
///   `withConnection` or `withTransaction` instead (a run's records, an immune event).
/// - A caller whose task is cancelled stops waiting for its connection at once (a shutdown
///   during an outage does not wait out the deadline).
/// - Only the wait for a connection and for the first answer are bounded: a body running on a
///   connection whose server vanished without closing it waits for the connection to fail.
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

    /// A statement whose rows (if any) are not wanted, read to the end (`PostgresConnection.perform`).
    func perform(_ query: PostgresQuery, logger: Logger) async throws {
        let pool = pool
        try await answered(within: deadline) { for try await _ in try await pool.query(query, logger: logger) {} }
    }

    public func withTransaction<Result: Sendable>(logger: Logger, _ body: (PostgresConnection) async throws -> Result) async throws -> Result {
        try await withConnection { connection in try await connection.withTransaction(logger: logger) { try await body($0) } }
    }

    public func withConnection<Result: Sendable>(_ body: (PostgresConnection) async throws -> Result) async throws -> Result {
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
        defer { handoff.giveBack() }
        return try await body(connection)
    }
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
