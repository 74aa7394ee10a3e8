import ArgumentParser
import Foundation
import MedicEngine
import MedicKnowledge

struct MemoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "The immune memory: faults seen before and the remediation that cured them; docs/knowledge.md#immune-memory.",
        discussion: """
            Kept in <state-dir>/knowledge/immune-memory.json. It learns from every run `medic watch` \
            starts for an incident, and from chaos experiments (`medic memory learn`); when an \
            incident matches a remembered fault, its cure is proposed first. See docs/knowledge.md, \
            "Immune memory".

            Examples:
              medic memory list
              medic memory show 3f2a9c
              medic memory learn experiment.json
              medic memory forget 3f2a9c --json
              medic memory apply 3f2a9c --bus webhook:http://127.0.0.1:8099/bus
              medic memory cures 3f2a9c
            """,
        subcommands: [MemoryListCommand.self, MemoryShowCommand.self, MemoryLearnCommand.self, MemoryForgetCommand.self,
                      MemoryApplyCommand.self, MemoryCuresCommand.self]
    )
}

/// The options every `medic memory` subcommand shares.
struct MemoryOptions: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Flag(help: "Print JSON.")
    var json = false

    var stateDirectoryPath: String { stateDirectory ?? RunStore.defaultDirectory() }

    /// The state directory's knowledge stores: the memory is read and changed only through
    /// them (`ImmuneMemoryStore`), which create nothing to read.
    var knowledge: KnowledgeStores { StateStores.knowledge(in: stateDirectoryPath) }

    /// The saved memory (empty when there is none). A corrupt document is an error (exit 1).
    func load(at now: Date) throws -> ImmuneMemory {
        do {
            return try knowledge.immuneMemory.read(capacity: ImmuneMemory.defaultCapacity, at: now)
        } catch let error as KnowledgeError {
            throw CommandFailure("error: \(error.description)")
        }
    }

    /// Changes the saved memory under its lock (`ImmuneMemoryStore.update`). A corrupt document
    /// or a knowledge base that cannot be written is an error (exit 1).
    func update<T>(at now: Date, _ body: (inout ImmuneMemory) throws -> (T, [ImmuneMemoryChange])) throws -> (T, [ImmuneMemoryChange]) {
        do {
            return try knowledge.immuneMemory.update(capacity: ImmuneMemory.defaultCapacity, at: now, body)
        } catch let error as KnowledgeError {
            throw CommandFailure("error: \(error.description)")
        }
    }

    func printJSON(_ value: some Encodable) throws {
        printLine(String(decoding: try MemoryRenderer.encoder().encode(value), as: UTF8.self))
    }
}

/// `--bus` of the `medic memory` subcommands that change the memory.
struct MemoryBusOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Where the change events are published: outbox:PATH, webhook:URL or stdout.",
                               discussion: "Default: outbox:<state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    /// The `--bus` transport, else the state directory's outbox store (`StateStores.outbox`).
    func publisher(stateDirectory: String) -> BusExecutor {
        guard let bus else {
            return BusExecutor(outbox: StateStores.outbox(at: StateStores.defaultOutboxPath(in: stateDirectory)), environment: EngineEnvironment())
        }
        return BusExecutor(transport: bus, standardOutput: busLine)
    }

    /// Publishes the changes; a failure is a warning (the change stands). Returns the event ids.
    func publish(_ changes: [ImmuneMemoryChange], stateDirectory: String) async throws -> [String] {
        var ids: [String] = []
        for (change, eventID, failure) in await ImmuneMemoryEvents.publish(changes, through: publisher(stateDirectory: stateDirectory)) {
            if let eventID { ids.append(eventID) }
            if let failure { MedicLog.log.warning("medic: warning: the change event of \(change.signatureID) was not published: \(failure)") }
        }
        return ids
    }
}

struct MemoryListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Every remembered fault: signature id, fault type, pattern, observations, success rate, last applied.",
        discussion: "With --json: {\"entries\": [entry …]}, each entry as stored in immune-memory.json."
    )

    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        let entries = try options.load(at: SystemClock().now).entries
        if options.json { return try options.printJSON(["entries": entries]) }
        guard !entries.isEmpty else { return printLine("The immune memory is empty.") }
        for entry in entries.sorted(by: { ($0.lastApplied, $0.id) > ($1.lastApplied, $1.id) }) {
            printLine("\(entry.id.prefix(12))  \(entry.signature.faultType)  \(entry.signature.pattern)  "
                  + "\(entry.observations) obs  \(MemoryRenderer.percent(entry.successRate))  "
                  + "last applied \(MemoryRenderer.time(entry.lastApplied))")
        }
    }
}

struct MemoryShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "One remembered fault with its remediation actions.",
        discussion: "ID is a signature id or a unique prefix of one. Exit 1 when no entry has it. With --json: the entry."
    )

    @Argument(help: "A signature id, or a unique prefix of one.")
    var id: String

    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        guard let entry = try options.load(at: SystemClock().now).entry(id: id) else {
            throw CommandFailure("error: no immune-memory entry has the signature id '\(id)' (or it is an ambiguous prefix)")
        }
        if options.json { return try options.printJSON(entry) }
        writeOut(MemoryRenderer.text(entry))
    }
}

struct MemoryLearnCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learn",
        abstract: "Teaches the memory what chaos experiments found, and publishes each change on the bus.",
        discussion: """
            FILE (or - for standard input) holds one experiment as a JSON object, a JSON array of \
            them, or JSON lines:
              {"experiment_id": "exp-42", "fault_type": "network-partition",
               "components": ["storage-1", "storage-2"], "pattern": "network-partition:storage:2-nodes",
               "succeeded": true,
               "remediation": [{"playbook_id": "restart-service-001", "action": "restart", "priority": 1, "timeout": 30}]}
            A success of a new fault creates an entry; a known fault counts one more observation, \
            updates its success rate (EMA, alpha 0.3) and, on success, merges the actions; a \
            failure of an unknown fault teaches nothing. All or nothing: an input with a fault \
            changes nothing (exit 1, the line and field named). Each change is published as \
            chaos.immune-memory.changed. With --json: {"changes": [...], "event_ids": [...]}.
            """
    )

    @Argument(help: "The experiments' results: a JSON file, or - for standard input.")
    var file: String

    @OptionGroup var bus: MemoryBusOptions
    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        let text: String
        if file == "-" {
            text = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure("error: \(file): cannot read the file")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let experiments: [ChaosExperimentResult]
        do {
            experiments = try ChaosExperimentResult.parse(text, source: file == "-" ? "<stdin>" : file)
        } catch let error as KnowledgeError {
            throw CommandFailure("error: \(error.description)")
        }
        let now = SystemClock().now  // once the input is read: the learning's one time
        let (_, changes) = try options.update(at: now) { memory in
            ((), experiments.flatMap { memory.learn($0.outcome, at: now) })
        }
        let eventIDs = try await bus.publish(changes, stateDirectory: options.stateDirectoryPath)
        if options.json { return try options.printJSON(LearnOutput(changes: changes, eventIDs: eventIDs)) }
        if changes.isEmpty { return printLine("Nothing learned: failures of faults the memory does not know teach nothing.") }
        for change in changes {
            printLine("\(change.kind.rawValue) \(change.signatureID.prefix(12))" + (change.successRate.map { " success rate \(MemoryRenderer.percent($0))" } ?? ""))
        }
    }

    private struct LearnOutput: Encodable {
        var changes: [ImmuneMemoryChange]
        var eventIDs: [String]

        private enum CodingKeys: String, CodingKey { case changes, eventIDs = "event_ids" }
    }
}

struct MemoryForgetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget",
        abstract: "Removes a remembered fault, and publishes chaos.immune-memory.changed on the bus.",
        discussion: """
            The event is a CloudEvent (data: kind forgotten, signature_id) published like a bus step's, \
            with source medic/runs/immune-memory. Exit 1 when no entry has the id. With --json: \
            {"change": {"kind", "signature_id", "time"}, "event_id"}.
            """
    )

    @Argument(help: "A signature id, or a unique prefix of one.")
    var id: String

    @OptionGroup var bus: MemoryBusOptions
    @OptionGroup var options: MemoryOptions

    mutating func run() async throws {
        let now = SystemClock().now
        let id = self.id
        var change: ImmuneMemoryChange?
        // Read first, so that forgetting what is not there writes nothing (nor creates the
        // knowledge base); then under the memory's lock, so a watch learning meanwhile is not undone.
        if try options.load(at: now).entry(id: id) != nil {
            (change, _) = try options.update(at: now) { memory in
                let forgotten = memory.forget(id: id, at: now)
                return (forgotten, [])
            }
        }
        guard let change else {
            throw CommandFailure("error: no immune-memory entry has the signature id '\(id)' (or it is an ambiguous prefix)")
        }
        let eventID = try await bus.publish([change], stateDirectory: options.stateDirectoryPath).first
        if options.json {
            return try options.printJSON(ForgetOutput(change: change, eventID: eventID))
        }
        printLine("Forgot \(change.signatureID).")
    }

    private struct ForgetOutput: Encodable {
        var change: ImmuneMemoryChange
        var eventID: String?

        private enum CodingKeys: String, CodingKey { case change, eventID = "event_id" }
    }
}

/// `medic memory` as text and JSON.
enum MemoryRenderer {
    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(time(date))
        }
        return encoder
    }

    static func time(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    static func percent(_ value: Double) -> String { String(format: "%.1f%%", value * 100) }

    static func text(_ entry: ImmuneMemoryEntry) -> String {
        let s = entry.signature
        var out = """
            Signature     \(s.id)
            Fault type    \(s.faultType)
            Components    \(s.components.isEmpty ? "-" : s.components.joined(separator: ", "))
            Pattern       \(s.pattern)
            Observations  \(entry.observations)
            Success rate  \(percent(entry.successRate))
            First seen    \(time(entry.firstSeen))
            Last seen     \(time(entry.lastSeen))
            Last applied  \(time(entry.lastApplied))
            Learned from  \(entry.origin.rawValue) (last: \(entry.lastOrigin.rawValue)\(entry.lastOriginID.map { " \($0)" } ?? ""))
            Actions

            """
        for action in entry.actions {
            out += "  \(action.priority)  \(action.playbookID)  \(action.action)  timeout \(action.timeout)s"
                + (action.type.map { "  \($0.rawValue) on \($0.topic)" } ?? "") + "\n"
        }
        return out
    }
}
