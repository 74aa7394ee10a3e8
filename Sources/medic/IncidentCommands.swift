import ArgumentParser
import Foundation
import MedicEngine
import MedicServer

/// `medic ack` and `medic resolve`: a person takes on or closes an incident of `medic serve`, in
/// the same durable store the server uses (`<state-dir>/incidents/`), audited in `audit.jsonl`.
struct IncidentDecisionOptions: ParsableArguments {
    @Argument(help: "An incident key, or the start of one (`ls <state-dir>/incidents`).")
    var incident: String

    @Option(help: "Who (recorded on the incident and in the audit log).")
    var by: String

    @Option(help: "A note (recorded).")
    var note: String?

    @OptionGroup var engine: EngineOptions

    func perform(_ action: IncidentAcknowledgement.Action) async throws {
        // Read-only first: a state directory without incidents is left as it is, not created.
        let folder = engine.stateDirectoryPath + "/incidents"
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("error: no incident has the key '\(incident)': \(folder) does not exist (medic serve has opened no incident with this --state-dir)")
        }
        let interpreter = try engine.interpreter(root: ".")  // first: a bad engine option creates no state directory
        let stores = try engine.stores(of: interpreter)
        let store: FileIncidentStore
        do {
            store = try FileIncidentStore(stateDirectory: engine.stateDirectoryPath)
        } catch {
            throw CommandFailure("error: \(error)")
        }
        let decisions = IncidentAcknowledgement(store: store, audit: stores.audit)
        let (key, candidates) = await decisions.resolveKey(incident)
        guard let key else {
            if candidates.count > 1 {
                throw CommandFailure("error: '\(incident)' is the start of \(candidates.count) incident keys: \(candidates.prefix(5).joined(separator: ", "))")
            }
            throw CommandFailure("error: no incident has the key '\(incident)' in \(store.directory)")
        }
        let outcome: IncidentAcknowledgement.Outcome
        do {
            outcome = try await decisions.perform(action, key: key, by: by, note: note, now: interpreter.clock.now)
        } catch {
            throw CommandFailure("error: \(error)")
        }
        switch outcome {
        case .done(let incident):
            let decision = action == .acknowledge ? incident.acknowledgement : incident.resolution
            printLine("Incident \(key) \(action == .acknowledge ? "acknowledged" : "resolved") by \(decision?.by ?? by) at \(decision?.at ?? "?").")
        case .notFound(let why), .conflict(let why):
            throw CommandFailure("error: \(why)")
        case .invalid(let why, _):
            throw ValidationError(why)
        }
    }
}

struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge an incident of medic serve: someone has taken it on.",
        discussion: """
            Records who acknowledged the incident, when, and the note, on the incident and in \
            <state-dir>/audit.jsonl. An incident acknowledged or resolved already is left as it \
            is (exit 1). The same as POST /api/v1/incidents/KEY/ack.

            Example:
              medic ack a1b2c3d4e5f60718-1796446800123 --by alice --note "looking at it"
            """
    )

    @OptionGroup var options: IncidentDecisionOptions

    func run() async throws { try await options.perform(.acknowledge) }
}

struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve an incident of medic serve by hand.",
        discussion: """
            Marks the incident resolved now, recording who, when and the note, on the incident \
            and in <state-dir>/audit.jsonl. A run going is not stopped; a run not started yet never \
            starts. An incident resolved already is left as it is (exit 1). The same as \
            POST /api/v1/incidents/KEY/resolve.

            Example:
              medic resolve a1b2c3d4e5f60718-1796446800123 --by alice --note "fixed by hand"
            """
    )

    @OptionGroup var options: IncidentDecisionOptions

    func run() async throws { try await options.perform(.resolve) }
}
