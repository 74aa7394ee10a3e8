import ArgumentParser
import Foundation
import MedicEngine
import MedicPostgres

/// `medic runs` and `medic show` against the database several `medic serve` share (`--store`,
/// else `$MEDIC_STORE` unless `--state-dir` is given, as the decision commands): every server's
/// runs, in the same formats as a state directory's. Reading changes nothing: a run listed
/// `interrupted` (no outcome, its lease expired) is left for a server's takeover to resume, and
/// no incident record is written here (each server learns the runs into its own knowledge base).
enum DatabaseRuns {
    /// The database the options name, if any.
    static func store(_ store: String?, stateDirectory: String?) -> String? {
        guard let text = store ?? (stateDirectory == nil ? ProcessInfo.processInfo.environment["MEDIC_STORE"] : nil), !text.isEmpty else {
            return nil
        }
        return text
    }

    /// Runs `body` with the runs of the database `text` names: one that does not answer within
    /// 5 s, or whose schema is not this Medic's, exits 1; an address that is not one exits 2.
    static func reading<T>(_ text: String, _ body: (PostgresRunStore) async throws -> T) async throws -> T {
        let database = try await ServeStore.current(text, connectTimeout: 5)
        do {
            let result = try await body(PostgresRunStore(database, owner: "medic-cli"))
            await database.shutdown()
            return result
        } catch {
            await database.shutdown()
            throw error
        }
    }

    /// `medic runs --store`: every run of the database, oldest first.
    static func list(_ text: String, json: Bool) async throws {
        let runs = try await reading(text) { store in
            do { return try await store.summaries() } catch { throw CommandFailure("error: \(error)") }
        }
        if runs.isEmpty && !json {
            printLine("No runs yet in \(try PostgresLocation(text)).")
            return
        }
        RunsCommand.write(runs, json: json)
    }

    /// `medic show RUN --store`: one run of the database, RUN an id or an unambiguous prefix.
    static func show(_ text: String, runID: String, json: Bool) async throws {
        let (contents, status, journal) = try await reading(text) { store in
            let id: String
            do { id = try await store.resolve(runID) } catch let error as JournalError { throw ValidationError(error.description) }
            do {
                let (_, contents, status) = try await store.inspect(id)
                return (contents, status, store.journalPath(id))
            } catch {
                throw CommandFailure("error: \(error)")
            }
        }
        let report = RunReport(records: contents.records, journal: journal, status: status)
        writeOut(json ? RunRenderer.json(ShowCommand.Shown(report: report, records: contents.records, damage: [], leftRunning: nil))
                      : RunRenderer.timeline(report, records: contents.records))
    }
}
