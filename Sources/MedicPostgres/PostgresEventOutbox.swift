import Foundation
import MedicEngine

/// The bus's outbox in the shared database (`medic_outbox`), for the engine's `outbox`
/// transport when servers share PostgreSQL: an event a server stored is delivered by whichever
/// server's relay takes it (`OutboxRelay`, `medic serve --relay`), so a server that dies after
/// storing it loses nothing.
///
/// `EventOutbox` is synchronous, and the bus calls `append` on a thread of its own
/// (`BusExecutor.offThread`): `append` waits there for the pool's answer, which it must never do
/// on a thread of Swift concurrency's pool. Readers take the events through `PostgresOutbox.dispatch`
/// (FOR UPDATE SKIP LOCKED, each delivered at least once); reading after a cursor is refused,
/// since a sequence number given at insert does not tell the order in which transactions
/// commit, and a cursor would skip an event committed late.
public struct PostgresEventOutbox: EventOutbox {
    public let outbox: PostgresOutbox

    public init(_ database: StateDatabase) { outbox = PostgresOutbox(database) }

    public var location: String { "the database's outbox (medic_outbox, \(outbox.database.location))" }

    public func append(_ event: OutboxEvent) throws {
        let outbox = outbox
        let done = Completion()
        Task { done.finish(await Result(catching: { try await outbox.enqueue([event]) })) }
        try done.wait().get()
    }

    public func events(after cursor: OutboxCursor?, limit: Int) throws -> OutboxPage {
        throw ExecutorError("the database's outbox is read by a relay (medic serve --relay), not after a cursor")
    }

    /// One result handed from a task to the thread that waits for it.
    final class Completion: @unchecked Sendable {  // `result` only under `condition`
        private let condition = NSCondition()
        private var result: Result<Void, any Error>?

        func finish(_ value: Result<Void, any Error>) {
            condition.lock()
            result = value
            condition.signal()
            condition.unlock()
        }

        func wait() -> Result<Void, any Error> {
            condition.lock()
            defer { condition.unlock() }
            while result == nil { condition.wait() }
            return result!
        }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
