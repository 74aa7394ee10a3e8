import ArgumentParser
import Foundation
import MedicEngine

struct BreakerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "breaker",
        abstract: "The remediation circuit breaker: playbooks that keep failing are stopped.",
        discussion: """
            Per playbook, from its finished runs in the state directory (refused runs do not count): \
            the breaker opens when the last 3 runs failed, or when more than half of the last 10 \
            failed (at least 4 runs). Open, the breaker gate refuses the playbook's runs; 1 h after \
            the latest failure it half-opens and lets one trial run through: its success closes the \
            breaker, its failure opens it again. `medic breaker reset` closes it by hand.

            Examples:
              medic breaker list
              medic breaker reset disk-cleanup-001 --by alice --reason "disk replaced"
            """,
        subcommands: [BreakerListCommand.self, BreakerResetCommand.self]
    )
}

struct BreakerListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "Each playbook with runs: its breaker's state, failures in the last 10 runs, failures in a row, until when open."
    )

    @Flag(help: "Print one JSON object: {\"breakers\": [...]}.")
    var json = false

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    private struct Entry: Encodable {
        var playbook: String
        var state: String
        var failures: Int
        var runs: Int
        var consecutiveFailures: Int
        var until: String?
        var reason: String?
        var resetBy: String?
        var resetAt: String?

        enum CodingKeys: String, CodingKey {
            case playbook, state, failures, runs, until, reason
            case consecutiveFailures = "consecutive_failures"
            case resetBy = "reset_by"
            case resetAt = "reset_at"
        }
    }

    mutating func run() async throws {
        let directory = stateDirectory ?? RunStore.defaultDirectory()
        // Counted from the stores' run index; a state directory without runs has no breakers, and
        // nothing is created to say so.
        let stores = StateStores.existing(in: directory)
        let breaker = RemediationBreaker(stateDirectory: directory, history: stores?.runs ?? ListedRuns([]))
        let entries = await breaker.statuses(now: SystemClock().now).map { status -> Entry in
            var entry = Entry(playbook: status.playbookID, state: status.state.name, failures: status.windowFailures,
                              runs: status.windowRuns, consecutiveFailures: status.consecutiveFailures,
                              resetBy: status.lastReset?.by, resetAt: status.lastReset?.at)
            switch status.state {
            case .closed: break
            case .open(let until, let reason):
                entry.until = until.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
                entry.reason = reason
            case .halfOpen(let reason):
                entry.reason = reason
            }
            return entry
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(["breakers": entries]), as: UTF8.self))
            return
        }
        guard !entries.isEmpty else {
            printLine("No runs in the state directory.")
            return
        }
        for entry in entries {
            var line = "\(entry.playbook)  \(entry.state)  \(entry.failures) of the last \(entry.runs) runs failed, \(entry.consecutiveFailures) in a row"
            if let until = entry.until { line += "  until \(until)" }
            printLine(line)
            if let reason = entry.reason { printLine("    \(reason)") }
        }
    }
}

struct BreakerResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Close a playbook's breaker by hand: runs that finished before now no longer count.",
        discussion: "The reset is stored in <state-dir>/breakers.json and written to <state-dir>/audit.jsonl (with --store: in the database several `medic serve` share, and its audit log)."
    )

    @Argument(help: "The playbook_id.")
    var playbook: String

    @OptionGroup var decision: DecisionOptions

    mutating func run() async throws {
        let (decision, playbook) = (decision, playbook)
        try await decision.record { now in
            try await decision.withFlags { try await $0.resetBreaker(playbook, by: decision.by, reason: decision.reason, now: now) }
            return "The circuit breaker of \(playbook) is closed (reset by \(decision.by)); earlier runs no longer count."
        }
    }
}
