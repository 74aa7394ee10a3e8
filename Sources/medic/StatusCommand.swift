import ArgumentParser
import Foundation
import MedicEngine
import MedicLoader
import MedicModel
import MedicPostgres

/// `medic status`: the health of the systems Medic looks after (docs/health.md), as opposed to
/// `medic health`, Medic's own.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "The health of the systems Medic looks after (docs/health.md): component states, score, trend, degradation levels.",
        discussion: """
            With --checks FILE, runs every check of that health checks file once now (with its \
            retries), then prints each component's state (HEALTHY, DEGRADED, UNHEALTHY, CRITICAL), \
            the aggregate score 0-100 and its trend, each check's result, and each system's \
            degradation level with the features it switches off. Changes since the last round in \
            this state directory are published on the bus (dev.medic.health.check_failed, \
            dev.medic.health.state_changed, dev.medic.degradation.changed). Without --checks, prints \
            what the last round saved (that of `medic serve --health-checks FILE`, or of an earlier \
            `medic status --checks`), with the degradation levels in force now (`medic degrade` \
            overrides included). `medic health` is Medic's own health.

            Exit status: 0 every component HEALTHY, 1 one is not (or nothing has been checked), 2 usage.

            Examples:
              medic status --checks health-checks.yaml
              medic status --json --state-dir /var/lib/medic
            """
    )

    @Option(help: ArgumentHelp("A health checks file (docs/health.md) to run once now.", valueName: "file"))
    var checks: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: ArgumentHelp("Where changes are published: outbox:PATH, webhook:URL or stdout.",
                               discussion: "Default: outbox:<state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    @Option(help: "A metric sources file for metric checks. Default: metrics.yaml under --root when present.")
    var metrics: String?

    @Option(help: "The directory that may hold metrics.yaml.")
    var root: String = "."

    @Flag(help: "Print the snapshot as one JSON object: {\"checked_at\", \"score\", \"trend\", \"components\", \"checks\", \"not_run\", \"degradation\", \"features\", \"problems\"}.")
    var json = false

    mutating func run() async throws {
        let state = stateDirectory ?? RunStore.defaultDirectory()
        let snapshot: HealthSnapshot
        if let checks {
            let (file, diagnostics) = HealthChecksLoader.load(path: checks)
            guard let file else { throw CommandFailure.diagnostics(diagnostics, "the health checks file has errors; fix them first") }
            let environment = EngineEnvironment()
            let probes = HealthProbes(http: environment.http, metrics: try metricRegistry(file: metrics, root: root, environment: environment),
                                      postgres: { try await PostgresHealthStatement.run(url: $0, statement: $1, timeout: $2) },
                                      runningSteps: environment.runningSteps)
            let monitor = HealthMonitor(file: file, probes: probes, stateDirectory: state, clock: SystemClock(),
                                        bus: Self.publisher(bus, state: state))
            snapshot = await monitor.round(all: true)
            try? await environment.shutdown()
        } else {
            guard let saved = HealthSnapshot.load(state) else {
                throw CommandFailure("error: no health check has run in \(state) yet",
                                     "run `medic status --checks FILE`, or `medic serve --health-checks FILE`")
            }
            snapshot = saved.degradationNow(in: state)
        }
        for problem in snapshot.problems { MedicLog.log.warning("medic: warning: \(problem)") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            printLine(String(decoding: try encoder.encode(snapshot), as: UTF8.self))
        } else {
            writeOut(Self.text(snapshot))
        }
        if snapshot.components.contains(where: { $0.state != .healthy }) { throw ExitCode(1) }
    }

    static func publisher(_ bus: BusTransport?, state: String) -> BusExecutor {
        bus.map { BusExecutor(transport: $0, standardOutput: busLine) }
            ?? BusExecutor(outbox: StateStores.outbox(at: StateStores.defaultOutboxPath(in: state)), environment: EngineEnvironment())
    }

    static func text(_ snapshot: HealthSnapshot) -> String {
        var out = table(["component", "state", "score", "failing"], snapshot.components.map {
            [$0.component, $0.state.rawValue, String($0.score), $0.failing.joined(separator: ", ")]
        })
        out += "\nscore \(snapshot.score) (\(snapshot.trend.rawValue)), checked at \(snapshot.checkedAt)\n\n"
        out += table(["check", "tier", "component", "result", "attempts", "detail"], snapshot.checks.map {
            [$0.name, $0.tier.rawValue, $0.component, $0.passed ? "pass" : "FAIL", String($0.attempts), $0.detail]
        })
        for check in snapshot.notRun { out += "not run: \(check.name) (\(check.tier.rawValue), \(check.component)): \(check.reason)\n" }
        out += "\n" + table(["system", "level", "source", "since"], snapshot.degradation.map {
            [$0.system, $0.level.rawValue, $0.source + ($0.by.map { " by \($0)" } ?? "") + ($0.reason.map { ": \($0)" } ?? ""), $0.since ?? ""]
        })
        out += "features: " + snapshot.features.map { "\($0.name) \($0.on ? "on" : "OFF")" }.joined(separator: ", ") + "\n"
        return out
    }

    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        return ([header] + rows).map { row in
            row.indices.map { $0 == row.count - 1 ? row[$0] : row[$0].padding(toLength: widths[$0] + 2, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n") + "\n"
    }
}

/// `medic degrade set|clear`: a person's degradation level, in force until cleared.
struct DegradeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "degrade",
        abstract: "Set or clear a degradation level by hand (docs/health.md): full, reduced, minimal, emergency.",
        subcommands: [DegradeSetCommand.self, DegradeClearCommand.self]
    )
}

struct DegradeOptions: ParsableArguments {
    @Option(help: "The system (a component of the health checks). Default: every system.")
    var system: String?

    @Option(help: "Who does it (recorded).")
    var by: String

    @Option(help: "Why (recorded).")
    var reason: String?

    @Option(name: .customLong("state-dir"), help: "The state directory. Default: $MEDIC_HOME, else .medic")
    var stateDirectory: String?

    @Option(help: ArgumentHelp("Where the change is published: outbox:PATH, webhook:URL or stdout.",
                               discussion: "Default: outbox:<state-dir>/outbox.jsonl"),
            transform: BusTransport.argument)
    var bus: BusTransport?

    func validate() throws {
        guard !by.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("--by must name who sets the level") }
    }

    /// Writes the override, then publishes `dev.medic.degradation.override` (a refused event is a warning).
    func apply(_ level: DegradationLevel?) async throws {
        let state = stateDirectory ?? RunStore.defaultDirectory()
        let at = JournalRecord.timestamp(SystemClock().now)
        let value = level.map { DegradationOverride(system: system, level: $0, by: by, reason: reason, at: at) }
        do {
            try DegradationState.setOverride(state, system: system, to: value)
        } catch {
            throw CommandFailure("error: \(error)")
        }
        var data = ["system": system ?? "*", "level": level?.rawValue ?? "health", "by": by, "at": at]
        if let reason { data["reason"] = reason }
        let request = ExecutionRequest(runID: "degradation", stepNumber: 0, stepName: system ?? "*", action: "degradation_override",
                                       purpose: .escalation, executor: .bus, topic: "dev.medic.degradation.override", parameters: data, timeout: 30)
        let published = try? await StatusCommand.publisher(bus, state: state).execute(request)
        if published?.succeeded != true { MedicLog.log.warning("medic: warning: the change is in force but was not published on the bus") }
        printLine(level.map { "\(system ?? "every system") held at \($0.rawValue) by \(by) until `medic degrade clear`" }
                  ?? "\(system ?? "every system") follows its health again")
    }
}

struct DegradeSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Hold a system (or all) at a level until cleared.")

    @Argument(help: "full, reduced, minimal or emergency.", transform: { text in
        guard let level = DegradationLevel(rawValue: text) else {
            throw ValidationError("'\(text)' is not a level: full, reduced, minimal, emergency")
        }
        return level
    })
    var level: DegradationLevel

    @OptionGroup var options: DegradeOptions

    func run() async throws { try await options.apply(level) }
}

struct DegradeClearCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Let a system (or all) follow its health again.")

    @OptionGroup var options: DegradeOptions

    func run() async throws { try await options.apply(nil) }
}
