import ArgumentParser
import Foundation
import MedicEngine

struct RunsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runs",
        abstract: "List the runs in the state directory (or, with --store, the shared database), oldest first.",
        discussion: """
            A run whose process is gone without an outcome (killed, crashed, power lost) is marked \
            interrupted here, in its journal; `medic resume RUN` continues it. A run whose journal \
            is damaged is listed damaged. A finished run whose incident record is missing from the \
            knowledge base gets it here.

            Examples:
              medic runs
              medic runs --json | jq '.[] | select(.status == "interrupted") | .id'
            """
    )

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Flag(help: "Print the runs as JSON.")
    var json = false

    @Option(help: "Read the runs of the database medic serve shares (postgres://...). Default: $MEDIC_STORE unless --state-dir is given.")
    var store: String?

    mutating func run() async throws {
        if let text = DatabaseRuns.store(store, stateDirectory: stateDirectory) { return try await DatabaseRuns.list(text, json: json) }
        let directory = stateDirectory ?? RunStore.defaultDirectory()
        guard FileManager.default.fileExists(atPath: directory + "/runs") else {
            printLine(json ? "[]" : "No runs yet (no \(directory)/runs).")
            return
        }
        let stores = try StateStores.files(in: directory)
        // `medic runs` is where a finished run whose incident record was lost gets it.
        let (runs, problems) = await stores.runs.list(reconcilingIncidents: true)
        problems.forEach { MedicLog.log.warning("warning: \($0)") }
        Self.write(runs, json: json)
        // The process ends here, with the listing's tables (every run's summary, the index's
        // rows and the folder's names) still held: the kernel takes their memory back at once,
        // where returning would free them one by one (some 6% of `medic runs` at 10,000 runs).
        // Nothing is left to write: the output above and every warning are out (unbuffered).
        withExtendedLifetime((stores, runs)) { Foundation.exit(0) }
    }

    /// Writes a listing: as bytes, no copy of megabytes into a string and back; the JSON a
    /// piece at a time. A closed pipe loses the output, as for every other command's text.
    static func write(_ runs: [RunSummary], json: Bool) {
        if json {
            try? RunRenderer.writeRunsJSON(runs) { try StandardStream.output.write(bytes: $0) }
        } else {
            try? StandardStream.output.write(bytes: RunRenderer.listBytes(runs))
        }
    }
}

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one run: its steps, verification, rollback and the timeline of its journal.",
        discussion: """
            RUN is a run id from `medic runs`, or an unambiguous prefix of one. A damaged journal \
            is shown as far as it can be trusted, with each damaged line (file:line), and exit status 1.

            Examples:
              medic show 20261123-101500-3f9a1c0d
              medic show 20261123 --json
            """
    )

    @Argument(help: "A run id, or the start of one.")
    var runID: String

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Flag(help: "Print the run's report and records as JSON.")
    var json = false

    @Option(help: "Read the runs of the database medic serve shares (postgres://...). Default: $MEDIC_STORE unless --state-dir is given.")
    var store: String?

    struct Shown: Encodable {
        var report: RunReport
        var records: [JournalRecord]
        /// The lines that cannot be trusted (a damaged journal); absent when there are none.
        var damage: [JournalDamage]?
        /// An interrupted run's processes that are still running (absent when none).
        var leftRunning: [StepProcess]?

        init(report: RunReport, records: [JournalRecord], damage: [JournalDamage], leftRunning: [StepProcess]?) {
            self.report = report
            self.records = records
            self.damage = damage.isEmpty ? nil : damage
            self.leftRunning = leftRunning
        }
    }

    mutating func run() async throws {
        if let text = DatabaseRuns.store(store, stateDirectory: stateDirectory) {
            return try await DatabaseRuns.show(text, runID: runID, json: json)
        }
        let store = try StateStores.files(in: stateDirectory ?? RunStore.defaultDirectory()).runs
        let id: String
        do { id = try await store.resolve(runID) } catch let error as JournalError { throw ValidationError(error.description) }
        // Through inspect(), so a dead run is recorded as interrupted before it is shown.
        let (_, contents, status) = try await store.inspect(id)
        contents.problems.forEach { MedicLog.log.warning("warning: \($0)") }
        let report = RunReport(records: contents.records, journal: store.journalPath(id), status: status)
        // A killed Medic's steps may still be running: say so, with what resume will do.
        let left = status == .interrupted ? LeftRunning.find(runID: id, records: contents.records) : nil
        var text = json ? RunRenderer.json(Shown(report: report, records: contents.records, damage: contents.damage,
                                                 leftRunning: left?.processes))
                        : RunRenderer.timeline(report, records: contents.records) + (left.map { "\nNote: \($0.summary)\n" } ?? "")
        if !json && !contents.damage.isEmpty {
            text += "\nDAMAGED: these lines of the journal cannot be trusted (shown above: only the records that can):\n"
            text += contents.damage.map { "  \($0)\n" }.joined()
            text += "`medic resume` and `medic approve`/`deny` refuse this run, and the gates that count runs refuse its playbook.\n"
        }
        writeOut(text)
        if let damage = contents.damageSummary {
            throw CommandFailure("error: the journal of run \(id) is damaged: \(damage)")
        }
    }
}

struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Continue an interrupted run from the first step not known to have finished.",
        discussion: """
            Steps that finished are never run again. A step that was running when Medic stopped is \
            run again when it is idempotent. When it is not, its action's verification (if any) is \
            run first: if it passes, the step counts as done. Otherwise Medic asks on a terminal, \
            runs it again with --yes, and else escalates the run as "outcome unknown" without \
            running it.

            Exit status as `medic run`: 0 the run succeeded, 1 it did not or cannot be resumed, 2 usage.

            Examples:
              medic runs
              medic resume 20261123-101500-3f9a1c0d
              medic resume 20261123-1015 --yes
            """
    )

    @Argument(help: "A run id, or the start of one.")
    var runID: String

    @OptionGroup var engine: EngineOptions

    @Option(help: "The directory holding the library, for metrics.yaml. Default: .")
    var root: String = "."

    @Flag(help: "Run a non-idempotent step that had started again without asking.")
    var yes = false

    @Flag(help: "Print the run's report as JSON at the end instead of progress lines.")
    var json = false

    mutating func run() async throws {
        let interpreter = try engine.interpreter(root: root)  // first: a bad engine option creates no state directory
        let interactive = isatty(STDIN_FILENO) == 1 && isatty(STDOUT_FILENO) == 1
        let confirm: (@Sendable (String) async -> Bool)? = interactive ? { @Sendable question in
            writeOut("\(question) [y/N] ")
            let answer = readLine()?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            return answer == "y" || answer == "yes"
        } : nil
        let execution = ExecutionStage(interpreter: interpreter, stores: try engine.stores(of: interpreter))
        let report = try await RunOutput.carryOut(json: json, stopping: interpreter.environment) { observe in
            try await execution.resume(runID, yes: yes, confirm: confirm, observe: observe)
        }
        throw ExitCode(report.outcome?.exitCode ?? 1)
    }
}
