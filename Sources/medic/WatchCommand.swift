import ArgumentParser
import Foundation
import MedicDetect
import MedicEngine
import MedicLoader
import MedicModel

struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Watch metrics with the anomaly rules and start the matching playbook when one fires.",
        discussion: """
            The rules are the library's rules/ and every playbook's own trigger (condition + duration). \
            Each sample goes through the rules; when a rule fires (its anomaly lasted its `for`), the \
            incident's playbook is planned with the rule's parameters and started as an automated run \
            through the safety gates, journaled like any run (its run_started names the incident, for \
            MTTD). One run at a time per incident: firings while it goes are folded into it.

            Samples come from --input (JSON lines, CSV or Prometheus text; `-` for standard input), \
            which is replayed and ends the watch once the feed has ended and the runs it started have \
            finished; or, without --input, every --interval from the metric sources (--metrics: \
            built-in host metrics, commands, Prometheus, files) for each series the rules name, and \
            from Prometheus text scraped from each --scrape URL. SIGINT, SIGTERM or SIGHUP stops: the steps \
            running are ended and their runs left interrupted, for `medic resume`.

            When a rule lists several playbooks (`playbook: [a, b]`), or the immune memory \
            remembers a cure for the fault, the candidates are ranked by the knowledge base \
            (docs/knowledge.md, Ranking; `medic plan --incident RULE` shows how) and the first goes through the \
            gates; an incident no playbook can take is escalated on the bus \
            (dev.medic.incident.escalated). Every --health-interval (and once when a replay ends) \
            Medic checks its own health like `medic health` and raises an alert on the bus when \
            remediation fails too often, a playbook's breaker trips, or the knowledge base is stale.

            Exit status: 0 the watch ended and every run it started succeeded, 1 a run did not \
            succeed or the library has errors, 2 usage.

            Examples:
              medic watch --input feed.jsonl --dry-run    what it would start
              medic watch --input feed.jsonl              replay a feed for real
              tail -f /var/log/metrics.jsonl | medic watch --input -
              medic watch --interval 15s --scrape http://127.0.0.1:9100/metrics
            """
    )

    @Option(help: "The directory holding playbooks/ actions/ rules/ policies/.")
    var root: String = "."

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("A feed of samples to replay (JSON lines, CSV or Prometheus text), or - for standard input.",
                               valueName: "file"))
    var input: String?

    @Option(help: "The feed's format: \(SampleFormat.acceptedForms). Default: from the file's extension, else its first line.",
            transform: SampleFormat.argument)
    var format: SampleFormat?

    @Option(help: ArgumentHelp("Without --input: a Prometheus text exposition to scrape every interval (repeatable).",
                               valueName: "url"))
    var scrape: [String] = []

    @Option(help: ArgumentHelp("Without --input: time between two rounds of sampling (above 0), \(Interval.acceptedForms). Default: 15s.",
                               valueName: "duration"),
            transform: Interval.argument)
    var interval = Interval(seconds: 15)

    @Flag(name: .customLong("dry-run"), help: "Plan the runs (with each gate's verdict) instead of starting them.")
    var dryRun = false

    @Flag(help: "One JSON object per event (incidents, runs) instead of text lines.")
    var json = false

    @Option(name: .customLong("lock-wait"), help: "Seconds a run waits for a target another run holds.")
    var lockWait: Double = 0

    @Option(name: .customLong("health-interval"),
            help: ArgumentHelp("Time between two self-monitoring checks (docs/running.md#self-monitoring), \(Interval.acceptedForms); 0 turns them off. Default: 1m.",
                               valueName: "duration"),
            transform: Interval.argument)
    var healthInterval = Interval(seconds: 60)

    func validate() throws {
        if input != nil && !scrape.isEmpty { throw ValidationError("--scrape samples live metrics; it cannot be combined with --input") }
        guard interval.seconds > 0 else {
            throw ValidationError("--interval '\(interval)' is not a duration above 0 (such as 15s or 1m)")
        }
        guard lockWait >= 0 else { throw ValidationError("--lock-wait must be 0 or more seconds") }
    }

    /// Whether `--input` is a recording (a regular file, also when given as `-` by `< FILE`),
    /// replayed on its own clock, rather than a live stream (a pipe, a terminal).
    static func isRecorded(_ input: String) -> Bool {
        var info = stat()
        let found = input == "-" ? fstat(STDIN_FILENO, &info) : stat(input, &info)
        return found == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

    mutating func run() async throws {
        let catalog: Catalog
        do {
            catalog = try CatalogStage().run(root: root)
        } catch let failure as CatalogStage.Failure {
            throw CommandFailure.catalog(failure, "the library has errors; fix them (medic validate) first")
        }
        let rules = RuleEngine(catalog: catalog)
        for rejection in rules.rejected { MedicLog.log.warning("warning: \(rejection)") }
        for replaced in rules.replacedTriggers { MedicLog.log.notice("note: \(replaced)") }
        guard !catalog.rules.isEmpty || !PlaybookTrigger.all(in: catalog.playbooks).isEmpty else {
            throw ValidationError("nothing to watch: no rule under \(root)/rules and no playbook with a trigger")
        }
        let interpreter = try engine.interpreter(root: root)
        let stores = try engine.stores(of: interpreter)
        var options = Watcher.Options(dryRun: dryRun, replay: input.map(Self.isRecorded) ?? false)
        options.lockWait = lockWait
        let output = WatchOutput(json: json)
        let watcher = Watcher(engine: rules, catalog: catalog, interpreter: interpreter, stores: stores, stateDirectory: engine.stateDirectoryPath, options: options,
                              report: output.show)
        StopSignals.install(stopping: interpreter.environment)
        let health = dryRun || healthInterval.seconds == 0 ? nil
            : WatchHealthCheck(monitor: SelfMonitor(stateDirectory: engine.stateDirectoryPath, escalationPolicies: catalog.policies.escalationPolicies,
                                                          clock: interpreter.environment.clock, runs: stores.runs),
                               bus: interpreter.executors.bus)
        if let input {
            do {
                var replay = try SampleFeed(source: input, format: format, metric: nil, reportedFailures: BacktestCommand.reportedFailures,
                                            report: { MedicLog.log.warning("\($0)") })
                var last = -Double.infinity
                while let sample = try replay.next() {
                    await watcher.ingest(sample)
                    last = max(last, sample.time)
                }
                if last.isFinite { await watcher.advance(to: last) }
            } catch let failure as SampleFeed.Failure {
                throw CommandFailure(failure.description)
            }
            let outcomes = await watcher.drain()
            if let health {
                for line in await health.run(now: interpreter.clock.now) { output.note(line) }
            }
            output.end(outcomes)
            throw ExitCode(outcomes.values.allSatisfy { $0 == .succeeded } ? 0 : 1)
        }
        let sampler = LiveSampler(catalog: catalog, registry: try metricRegistry(file: engine.metrics, root: root, environment: interpreter.environment),
                                  scrapeURLs: scrape, client: interpreter.environment.http)
        output.note("watching \(sampler.selectors.count) series\(scrape.isEmpty ? "" : " and \(scrape.count) scrape target(s)") every \(interval); Ctrl-C stops")
        let live = LiveWatch(clock: interpreter.clock, interval: interval.seconds, sampler: sampler,
                             health: health.map { ($0, healthInterval.seconds) }, note: { output.note($0) })
        try await live.run(watcher)
    }
}

/// The watch's events as text lines or JSON objects, one per line, on standard output.
final class WatchOutput: Sendable {
    let json: Bool

    init(json: Bool) { self.json = json }

    var show: @Sendable (WatchEvent) -> Void { { [self] event in self.describe(event) } }

    func note(_ text: String) {
        if json { emit(["event": "note", "message": text]) } else { line(text) }
    }

    func end(_ outcomes: [String: RunOutcome?]) {
        let failed = outcomes.filter { $0.value != .succeeded }.count
        if json {
            emit(["event": "end", "runs": outcomes.count, "not_succeeded": failed])
        } else {
            line("feed ended: \(outcomes.count) run(s) started, \(failed) did not succeed")
        }
    }

    private func describe(_ event: WatchEvent) {
        switch event {
        case .pending(let p):
            if json { emit(["event": "pending", "rule": p.rule, "series": p.seriesKey, "value": p.value, "since": p.since]) }
            else { line("pending    \(p.rule) \(p.seriesKey)=\(MetricValue.number(p.value)) since \(Self.time(p.since))") }
        case .incident(let i):
            if json { emit(Self.fields(i, event: "incident")) }
            else {
                line("FIRING     \(i.rule) \(i.seriesKey)=\(MetricValue.number(i.value)) \(i.severity), anomalous since \(Self.time(i.firstSeen)), "
                     + "fired \(Self.time(i.firedAt))" + (i.playbook.map { " -> \($0)" } ?? ""))
            }
        case .suppressed(let s):
            if json { emit(["event": "suppressed", "rule": s.rule, "incident_key": s.incidentKey, "series": s.seriesKey, "reason": "\(s.reason)"]) }
            else { line("suppressed \(s.rule) \(s.seriesKey): \(s.reason)") }
        case .folded(let i, let runID):
            if json { emit(["event": "folded", "incident_key": i.incidentKey, "run": runID]) }
            else { line("folded     \(i.incidentKey) into run \(runID), which is still going") }
        case .unhandled(let i, let reason, let escalated):
            if json { emit(["event": "unhandled", "incident_key": i.incidentKey, "reason": reason, "escalated": escalated ? "true" : "false"]) }
            else { line("unhandled  \(i.incidentKey): \(reason)\(escalated ? "; escalated to people" : "")") }
        case .planned(let i, let plan):
            if json {
                var object = Self.fields(i, event: "planned")
                object["plan"] = (try? JSONSerialization.jsonObject(with: Data(PlanRenderer.json(plan).utf8))) ?? [:]
                emit(object)
            } else {
                // One write: the plan's lines stay together, below their heading.
                let indented = PlanRenderer.text(plan).split(separator: "\n").map { "    " + $0 }.joined(separator: "\n")
                line("dry run    \(i.incidentKey): would start this plan:\n" + indented)
            }
        case .runStarted(let i, let runID, let plan):
            if json {
                var object: [String: Any] = ["event": "run_started", "incident_key": i.incidentKey, "run": runID, "playbook": plan.playbookID]
                if let selection = plan.selection {
                    object["remembered"] = selection.remembered != nil
                    object["candidates"] = selection.ranking.map(\.playbookID)
                }
                emit(object)
            } else {
                var why = ""
                if let selection = plan.selection, let first = selection.ranking.first {
                    if first.remembered, let memory = selection.remembered {
                        why = " (remembered cure: \(memory.match) match, success rate \(PlanRenderer.percent(memory.successRate)))"
                    } else if selection.ranking.count > 1 {
                        why = String(format: " (ranked first of %d, score %.3f)", selection.ranking.count, first.score)
                    }
                }
                line("run        \(runID) started: \(plan.playbookID) for \(i.incidentKey)\(why)")
            }
        case .runFinished(let i, let report):
            let outcome = report.outcome?.rawValue ?? report.status.rawValue
            if json { emit(["event": "run_finished", "incident_key": i.incidentKey, "run": report.runID, "outcome": outcome, "message": report.message ?? ""]) }
            else if report.status == .pendingApproval {
                line("run        \(report.runID) waits for approval: medic approve \(report.runID) --by NAME (or medic deny)")
            } else {
                line("run        \(report.runID) \(outcome): \(report.message ?? "")")
            }
        case .runDecided(let i, let report, let approvedBy, let deniedBy):
            // Decided by a person, perhaps in another process, which ran it.
            let outcome = report.outcome?.rawValue ?? report.status.rawValue
            if json {
                var object: [String: Any] = ["event": "run_finished", "incident_key": i.incidentKey, "run": report.runID, "outcome": outcome,
                                             "message": report.message ?? ""]
                if let approvedBy { object["approved_by"] = approvedBy }
                if let deniedBy { object["denied_by"] = deniedBy }
                emit(object)
            } else {
                let decision = deniedBy.map { " (denied by \($0))" } ?? approvedBy.map { " (approved by \($0))" } ?? ""
                line("run        \(report.runID) \(outcome)\(decision): \(report.message ?? "")")
            }
        case .runFailed(let i, let runID, let error):
            if json { emit(["event": "run_failed", "incident_key": i.incidentKey, "run": runID, "error": error]) }
            else { line("run        \(runID) could not go on: \(error)") }
        case .resolved(let i):
            if json { emit(Self.fields(i, event: "resolved")) }
            else { line("resolved   \(i.incidentKey) after \(i.firings) firing(s), peak \(MetricValue.number(i.peakValue))") }
        }
    }

    private static func fields(_ i: Incident, event: String) -> [String: Any] {
        var object: [String: Any] = [
            "event": event, "rule": i.rule, "incident_key": i.incidentKey, "series": i.seriesKey, "metric": i.metric, "labels": i.labels,
            "value": i.value, "score": i.score, "severity": "\(i.severity)", "first_seen": i.firstSeen, "fired_at": i.firedAt,
            "firings": i.firings,
        ]
        if let playbook = i.playbook { object["playbook"] = playbook }
        if let resolved = i.resolvedAt { object["resolved_at"] = resolved }
        return object
    }

    private static func time(_ seconds: Double) -> String {
        Date(timeIntervalSince1970: seconds).formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: false))
    }

    private func line(_ text: String) {
        printLine(text)
    }

    private func emit(_ object: [String: Any]) {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        writeOut(String(decoding: data, as: UTF8.self) + "\n")
    }
}
