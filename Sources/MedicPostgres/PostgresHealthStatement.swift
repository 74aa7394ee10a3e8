import Foundation
import PostgresNIO

/// The statement of a postgres health check (`SELECT 1`), run on a connection of its own that
/// is closed after it: the health checks of the engine take it as their PostgreSQL client, so
/// that the engine itself needs no PostgreSQL library.
public enum PostgresHealthStatement {
    /// Throws when `url` cannot be read, the server cannot be reached within `timeout` seconds,
    /// or it refuses the statement.
    public static func run(url: String, statement: String, timeout: Double) async throws {
        let location = try PostgresLocation(url)
        let database = StateDatabase(location, connectTimeout: .milliseconds(Int64(max(timeout, 0.001) * 1000)))
        do {
            try await database.reach(within: timeout)
            try await database.client.perform(PostgresQuery(unsafeSQL: statement), logger: database.logger)
        } catch let failure as PostgresFailure {
            await database.shutdown()
            throw failure
        } catch {
            await database.shutdown()
            throw PostgresFailure("running '\(statement)'", error, location: location)
        }
        await database.shutdown()
    }
}
