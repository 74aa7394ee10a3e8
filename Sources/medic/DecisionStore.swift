import Foundation
import MedicEngine
import MedicPostgres

extension DecisionOptions {
    /// Hands `decide` the switches the decision changes: the database's, when `--store` (else
    /// `$MEDIC_STORE`, unless `--state-dir` is given) names one, as every `medic serve` sharing
    /// it reads them; else the state directory's. A database that does not answer within 5 s, or whose schema is not this
    /// Medic's, changes nothing and exits 1.
    func withFlags<T>(_ decide: (any OperatorFlags) async throws -> T) async throws -> T {
        guard let text = store ?? (stateDirectory == nil ? ProcessInfo.processInfo.environment["MEDIC_STORE"] : nil), !text.isEmpty else {
            return try await decide(StateStores.flags(in: stateDirectoryPath))
        }
        let database = try await ServeStore.current(text, connectTimeout: 5)
        do {
            let decided = try await decide(PostgresFlags(database))
            await database.shutdown()
            return decided
        } catch {
            await database.shutdown()
            throw error
        }
    }
}
