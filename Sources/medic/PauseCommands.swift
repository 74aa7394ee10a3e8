import ArgumentParser
import Foundation
import MedicEngine

/// Who takes an operator's decision (pause, safe mode, a breaker reset) and why, recorded in
/// <state-dir>/audit.jsonl; shared by the commands that take one.
struct DecisionOptions: ParsableArguments {
    @Option(help: "Who decides (recorded).")
    var by: String

    @Option(help: "Why (recorded).")
    var reason: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(name: .customLong("store"),
            help: "The database several `medic serve` share (postgres://...; default $MEDIC_STORE unless --state-dir is given): the decision is theirs, not a state directory's.")
    var store: String?

    var stateDirectoryPath: String { stateDirectory ?? RunStore.defaultDirectory() }

    /// Runs `decide` at the command's one reading of the wall clock (the decision's recorded
    /// time) and prints what it says; a state file that cannot be written exits 1.
    func record(_ decide: (_ now: Date) async throws -> String) async throws {
        let now = SystemClock().now
        do {
            printLine(try await decide(now))
        } catch let error as JournalError {
            throw CommandFailure("error: \(error.description)")
        }
    }
}

struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "The kill switch: stop every new automated run, in every Medic sharing the state directory (or, with --store, the database).",
        discussion: """
            Until `medic resume-all`, the kill_switch gate refuses automated runs (rules, alerts); a \
            person's `medic run` needs --force and says so in its journal. Runs already going on \
            are not stopped. Both decisions are written to <state-dir>/audit.jsonl; with --store, to the \
            database that several `medic serve` share (every one of them is paused) and its audit log.

            Examples:
              medic pause --by alice --reason "incident 4711: hands off the database"
              medic resume-all --by alice
              medic pause --by alice --store postgres://medic@db.internal/medic
            """
    )

    @OptionGroup var decision: DecisionOptions

    mutating func run() async throws {
        let decision = decision
        try await decision.record { now in
            try await decision.withFlags { try await $0.turnOn(.killSwitch, by: decision.by, reason: decision.reason, now: now) }
            return "Paused by \(decision.by): automated runs are refused until `medic resume-all --by NAME`."
        }
    }
}

struct ResumeAllCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume-all",
        abstract: "Lift the kill switch (`medic pause`): automated runs may start again."
    )

    @OptionGroup var decision: DecisionOptions

    mutating func run() async throws {
        let decision = decision
        try await decision.record { now in
            try await decision.withFlags { try await $0.turnOff(.killSwitch, by: decision.by, reason: decision.reason, now: now) }
                ? "Resumed by \(decision.by): automated runs may start again." : "Medic was not paused."
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
            <state-dir>/audit.jsonl; with --store, to the database several `medic serve` share.

            Examples:
              medic safe-mode on --by alice --reason "unknown root cause"
              medic safe-mode off --by alice
            """
    )

    enum Switch: String, ExpressibleByArgument, CaseIterable { case on, off }

    @Argument(help: "on or off.")
    var setting: Switch

    @OptionGroup var decision: DecisionOptions

    mutating func run() async throws {
        let (decision, setting) = (decision, setting)
        try await decision.record { now in
            try await decision.withFlags { flags in
                switch setting {
                case .on:
                    try await flags.turnOn(.safeMode, by: decision.by, reason: decision.reason, now: now)
                    return "Safe mode on (by \(decision.by)): runs reach one instance of one service, with approval."
                case .off:
                    return try await flags.turnOff(.safeMode, by: decision.by, reason: decision.reason, now: now) ? "Safe mode off (by \(decision.by))." : "Safe mode was off."
                }
            }
        }
    }
}
