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

struct SafeModeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "safe-mode",
        abstract: "Switch safe mode on or off: every run may reach one instance of one service, with approval.",
        discussion: """
            Automated runs of a playbook that has never succeeded here are in safe mode anyway (a \
            new incident type); `on` puts every run in it, a person's too. Decisions go to \
            <state-dir>/audit.jsonl.

            Examples:
              medic safe-mode on --by alice --reason "unknown root cause"
              medic safe-mode off --by alice
            """
    )

    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    @Argument(help: "on or off.")
    var setting: Switch

    @Option(help: "Who switches (recorded).")
    var by: String

    @Option(help: "Why (recorded).")
    var reason: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    mutating func run() async throws {
        let safeMode = SafeMode(stateDirectory: stateDirectory ?? RunStore.defaultDirectory())
        do {
            switch setting {
            case .on:
                try safeMode.switchOn(by: by, reason: reason)
                print("Safe mode on (by \(by)): runs reach one instance of one service, with approval.")
            case .off:
                print(try safeMode.switchOff(by: by) ? "Safe mode off (by \(by))." : "Safe mode was off.")
            }
        } catch let error as JournalError {
            printError("error: \(error.description)")
            throw ExitCode(1)
        }
    }
}
