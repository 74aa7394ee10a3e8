import Foundation
import MedicServer
import PostgresNIO

/// Who requested each run over the API, in the database (`medic_run_requesters`, schema version
/// 6): an approval reaching any server sharing it knows who asked for the run. A run id is
/// recorded once (its primary key); a requester that cannot be read throws, and the approval
/// is refused (503) rather than let through.
public struct PostgresRunRequesters: RunRequesterLedger {
    public let database: StateDatabase

    public init(_ database: StateDatabase) { self.database = database }

    public func record(_ name: String, for runID: String) async throws {
        do {
            try await database.client.perform("INSERT INTO medic_run_requesters (run_id, requester) VALUES (\(runID), \(name))",
                                             logger: database.logger)
        } catch {
            throw PostgresFailure("recording who requested run \(runID)", error, location: database.location)
        }
    }

    public func forget(_ runID: String) async {
        try? await database.client.perform("DELETE FROM medic_run_requesters WHERE run_id = \(runID)", logger: database.logger)
    }

    public func requester(of runID: String) async throws -> String? {
        do {
            var found: String?
            let rows = try await database.client.query("SELECT requester FROM medic_run_requesters WHERE run_id = \(runID)",
                                                       logger: database.logger)
            for try await requester in rows.decode(String.self) { found = requester }
            return found
        } catch {
            throw PostgresFailure("reading who requested run \(runID)", error, location: database.location)
        }
    }
}
