import ArgumentParser
import Foundation
import MedicEngine

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "The kill switch: stop every new automated run, in every Medic sharing the state directory.",
        discussion: """
            Until `medic resume-all`, the kill_switch gate refuses automated runs (rules, alerts); a \
            person's `medic run` needs --force and says so in its journal. Runs already going on \
            are not stopped. Both decisions are written to <state-dir>/audit.jsonl.

            Examples:
              medic pause --by alice --reason "incident 4711: hands off the database"
              medic resume-all --by alice
            """
    )

    @Option(help: "Who pauses (recorded).")
    var by: String

    @Option(help: "Why (recorded, shown by every refused run).")
    var reason: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    mutating func run() async throws {
        let killSwitch = KillSwitch(stateDirectory: stateDirectory ?? RunStore.defaultDirectory())
        do {
            try killSwitch.pause(by: by, reason: reason)
        } catch let error as JournalError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
        print("Paused by \(by): automated runs are refused until `medic resume-all --by NAME`.")
    }
}

struct ResumeAllCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume-all",
        abstract: "Lift the kill switch (`medic pause`): automated runs may start again."
    )

    @Option(help: "Who lifts it (recorded).")
    var by: String

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    mutating func run() async throws {
        let killSwitch = KillSwitch(stateDirectory: stateDirectory ?? RunStore.defaultDirectory())
        do {
            print(try killSwitch.resume(by: by) ? "Resumed by \(by): automated runs may start again." : "Medic was not paused.")
        } catch let error as JournalError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
    }
}
