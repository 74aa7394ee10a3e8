import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge

struct MemoryApplyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apply",
        abstract: "Carries out a remembered cure on the bus: each typed action published on its topic, for the system that owns it.",
        discussion: """
            ID is a signature id or a unique prefix of one. The entry's actions that have a type \
            (RestartPlugin, TripCircuitBreaker, DrainConnections, ScaleDown, IsolateNode, \
            RerouteTraffic, RestoreFromCheckpoint, NotifyOperator, Custom) are published one at a \
            time in priority order (lowest first), each as a CloudEvent on its topic \
            (plugin.lifecycle.restart …) with its own timeout; playbook steps are listed as skipped \
            (run their playbook). With a webhook bus the answer is the acknowledgement: 2xx \
            succeeded, another status failed, no answer within the timeout timed out; the outbox \
            and stdout acknowledge nothing. The record (total, succeeded, failed, durations, \
            errors) is appended to <state-dir>/knowledge/immune-cures.jsonl. Exit 0 when every \
            action succeeded, 1 otherwise. With --json: the record. See docs/knowledge.md, \
            "Carrying out a cure".
            """
    )

    @Argument(help: "A signature id, or a unique prefix of one.")
    var id: String

    @Option(help: ArgumentHelp("Where the cure's actions are published: webhook:URL (answers acknowledge them), outbox:PATH or stdout.",
                               discussion: "Default: outbox:<state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        let now = SystemClock().now
        guard let entry = try options.load(at: now).entry(id: id) else {
            throw CommandFailure("error: no immune-memory entry has the signature id '\(id)' (or it is an ambiguous prefix)")
        }
        guard entry.actions.contains(where: { $0.type != nil }) else {
            let playbooks = Set(entry.actions.map(\.playbookID)).sorted().joined(separator: ", ")
            throw CommandFailure("error: the cure of \(entry.id.prefix(12)) has no action carried out on the bus (no action has a type); "
                                 + "it is carried out by running its playbooks: \(playbooks)")
        }
        let publisher: BusExecutor
        if let bus {
            publisher = BusExecutor(transport: bus, standardOutput: busLine)
        } else {
            publisher = BusExecutor(outbox: StateStores.outbox(at: StateStores.defaultOutboxPath(in: options.stateDirectoryPath)),
                                    environment: EngineEnvironment())
        }
        let record = await ImmuneCure(bus: publisher).carryOut(entry)
        var notStored: String?
        do {
            try ImmuneCureLog.append(record, to: options.knowledge.records)
        } catch {
            notStored = "error: the cure's record was not stored in \(options.knowledge.records.location): \(error)"
        }
        if options.json {
            try options.printJSON(record)
        } else {
            writeOut(ImmuneCureText.text(record))
        }
        if let notStored { throw CommandFailure(notStored) }
        if record.failed > 0 {
            throw CommandFailure("error: \(record.failed) of \(record.total) actions of cure \(record.cureID) did not succeed")
        }
    }
}

struct MemoryCuresCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cures",
        abstract: "The cures carried out (medic memory apply), oldest first: their actions, durations and errors.",
        discussion: "ID (optional) keeps the cures of one signature id or prefix. With --json: {\"cures\": [record …], \"problems\": [...]}."
    )

    @Argument(help: "A signature id or a prefix of one (optional).")
    var id: String?

    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        let (records, problems): ([ImmuneCureRecord], [KnowledgeProblem])
        do {
            (records, problems) = try ImmuneCureLog.records(in: options.knowledge.records, signatureID: id)
        } catch {
            throw CommandFailure("error: cannot read the cures: \(error)")
        }
        for problem in problems { MedicLog.log.warning("medic: warning: \(problem.description)") }
        if options.json {
            return try options.printJSON(CuresOutput(cures: records, problems: problems.map(\.description)))
        }
        guard !records.isEmpty else { return printLine("No cure was carried out" + (id.map { " for \($0)" } ?? "") + ".") }
        for record in records { writeOut(ImmuneCureText.text(record)) }
    }

    private struct CuresOutput: Encodable {
        var cures: [ImmuneCureRecord]
        var problems: [String]
    }
}

/// A cure's record as text.
enum ImmuneCureText {
    static func text(_ record: ImmuneCureRecord) -> String {
        var out = "Cure \(record.cureID) of \(record.signatureID.prefix(12)) (\(record.faultType), \(record.pattern)) via \(record.transport), "
            + "started \(record.startedAt): \(record.total) actions, \(record.succeeded) succeeded, \(record.failed) failed, "
            + String(format: "%.3fs", record.seconds) + "\n"
        for action in record.actions {
            out += "  \(action.priority)  \(action.type.rawValue)  \(action.topic)  \(action.status.rawValue)"
                + (action.acknowledged ? " (acknowledged)" : "") + String(format: "  %.3fs", action.seconds)
                + (action.error.map { "  \($0)" } ?? "") + "\n"
        }
        for skipped in record.skipped { out += "  skipped  \(skipped.playbookID)  \(skipped.action): \(skipped.reason)\n" }
        return out
    }
}
