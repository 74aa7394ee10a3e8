import ArgumentParser
import Foundation
import MedicPostgres

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Bring a PostgreSQL database's schema to this Medic's version, for shared state.",
        discussion: """
            Applies the schema migrations the database lacks, oldest first, in one transaction: \
            a failure leaves the schema as it was. Several Medics migrating at once take turns \
            (an advisory lock); each migration is applied once. A database whose schema is newer \
            than this Medic knows is refused and left alone. The file state (--state-dir) needs \
            no migration.

            The address is libpq's: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE, with \
            ?sslmode=disable|prefer|require|verify-full (default prefer: encrypted if the server offers it, its certificate not checked, as libpq does) and ?host=/socket/folder for a Unix \
            socket. Leave the password out of the address and set PGPASSWORD to keep it out of \
            process listings.

            Examples:
              medic migrate --store postgres://medic@db.internal:5432/medic --dry-run
              PGPASSWORD=... medic migrate --store postgres://medic@db.internal/medic --json
            """
    )

    @Option(help: ArgumentHelp("The database, as postgres://USER@HOST[:PORT]/DATABASE. Default: $MEDIC_STORE.", valueName: "address"))
    var store: String?

    @Flag(help: "Say what would be applied; change nothing.")
    var dryRun = false

    @Flag(help: "Print one JSON object: {\"store\", \"dry_run\", \"from\", \"to\", \"applied\": [{\"version\", \"name\"}]}.")
    var json = false

    @Option(help: ArgumentHelp("Seconds to wait for the database to answer a connection.", valueName: "seconds"))
    var connectTimeout: Double = 10

    @Option(help: ArgumentHelp("Seconds to wait for another Medic's migration (or any lock) before giving up, the schema unchanged.", valueName: "seconds"))
    var lockTimeout: Double = 60

    func validate() throws {
        guard store ?? ProcessInfo.processInfo.environment["MEDIC_STORE"] != nil else {
            throw ValidationError("give --store postgres://USER@HOST[:PORT]/DATABASE (or set MEDIC_STORE)")
        }
        guard connectTimeout > 0, connectTimeout <= 3600 else { throw ValidationError("--connect-timeout must be between 0 and 3600 seconds") }
        guard lockTimeout > 0, lockTimeout <= 86400 else { throw ValidationError("--lock-timeout must be between 0 and 86400 seconds") }
    }

    mutating func run() async throws {
        let text = store ?? ProcessInfo.processInfo.environment["MEDIC_STORE"] ?? ""
        let database = try ServeStore.database(text, connectTimeout: connectTimeout)
        let location = database.location
        let outcome: Result<(from: Int, applied: [SchemaMigrations.Migration]), any Error>
        do {
            try await database.reach(within: connectTimeout)
            outcome = .success(try await SchemaMigrations.migrate(database, dryRun: dryRun, lockTimeout: lockTimeout))
        } catch {
            outcome = .failure(error)
        }
        await database.shutdown()
        let (from, applied): (Int, [SchemaMigrations.Migration])
        switch outcome {
        case .success(let result): (from, applied) = result
        case .failure(let error): throw CommandFailure("error: \(error)", "the schema was not changed")
        }
        let to = applied.last?.version ?? from
        if json {
            struct Applied: Encodable { var version: Int; var name: String }
            struct Report: Encodable {
                var store: String, dryRun: Bool, from: Int, to: Int, applied: [Applied]
                enum CodingKeys: String, CodingKey { case store, from, to, applied, dryRun = "dry_run" }
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let report = Report(store: location.description, dryRun: dryRun, from: from, to: to,
                                applied: applied.map { Applied(version: $0.version, name: $0.name) })
            printLine(String(decoding: try encoder.encode(report), as: UTF8.self))
            return
        }
        if applied.isEmpty {
            printLine("\(location): schema version \(from), up to date.")
            return
        }
        printLine("\(location): schema version \(from)\(dryRun ? "; would apply:" : "; applied:")")
        for migration in applied { printLine("  \(migration.version)  \(migration.name)") }
        printLine(dryRun ? "Run without --dry-run to apply them." : "Now at version \(to).")
    }
}
